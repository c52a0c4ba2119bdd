package bitnet.engine.compress;

import bitnet.io.BadInputException;
import bitnet.io.Checkpoint;
import bitnet.io.TensorData;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/** Finds NaN/Inf in a checkpoint's float tensors: refused (bad input) unless allowed, reported either way. */
public final class NonFinite {
    private static final Logger LOG = Logger.getLogger("bitnet");

    private NonFinite() {}

    public static List<String> scan(Checkpoint ck) {
        List<String> bad = new ArrayList<>();
        for (TensorData t : ck.tensors().values()) {
            if (!t.dtype().isFloat()) {
                continue;
            }
            long count = t.countNonFinite();
            if (count > 0) {
                bad.add(t.name() + " (" + count + " of " + t.numel() + ")");
            }
        }
        return bad;
    }

    public static void check(Checkpoint ck, boolean allow) {
        check(ck, allow, " (set allow_nonfinite to compress anyway)");
    }

    /** As above; hint ends the refusal's message. */
    public static void check(Checkpoint ck, boolean allow, String hint) {
        List<String> bad = scan(ck);
        if (bad.isEmpty()) {
            return;
        }
        String msg = "weights with NaN/Inf values: " + String.join(", ", bad);
        if (!allow) {
            throw new BadInputException(ck.weightFile(), msg + hint);
        }
        LOG.warning(msg + " (allowed by allow_nonfinite)");
    }
}
