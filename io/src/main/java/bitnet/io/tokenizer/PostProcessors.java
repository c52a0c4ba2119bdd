package bitnet.io.tokenizer;

import bitnet.io.BadInputException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * tokenizer.json post-processors for a single sequence (pairs are not supported): ByteLevel (only
 * touches offsets, so a no-op on ids), TemplateProcessing's "single" template, RobertaProcessing and
 * BertProcessing (cls + ids + sep), and Sequence. They only run when special tokens are requested.
 * Also reports the special ids a template puts first and last, from which BOS/EOS are guessed.
 */
final class PostProcessors {
    private PostProcessors() {}

    /** A post-processor: ids of the sequence in, ids with special tokens out. */
    record PostProcessor(java.util.function.UnaryOperator<int[]> fn, Integer firstSpecial, Integer lastSpecial) {
        int[] apply(int[] ids) {
            return fn.apply(ids);
        }
    }

    private static final PostProcessor IDENTITY = new PostProcessor(ids -> ids, null, null);

    static PostProcessor parse(JsonNode n, Path file) {
        if (n == null || n.isNull()) return IDENTITY;
        String type = n.path("type").asText("");
        switch (type) {
            case "ByteLevel" -> {
                return IDENTITY;
            }
            case "Sequence" -> {
                List<PostProcessor> parts = new ArrayList<>();
                for (JsonNode c : n.path("processors")) parts.add(parse(c, file));
                Integer first = null, last = null;
                for (PostProcessor p : parts) {
                    if (p.firstSpecial() != null && first == null) first = p.firstSpecial();
                    if (p.lastSpecial() != null) last = p.lastSpecial();
                }
                return new PostProcessor(
                        ids -> {
                            for (PostProcessor p : parts) ids = p.apply(ids);
                            return ids;
                        },
                        first,
                        last);
            }
            case "TemplateProcessing" -> {
                return template(n, file);
            }
            case "RobertaProcessing", "BertProcessing" -> {
                int cls = n.path("cls").path(1).asInt(-1),
                        sep = n.path("sep").path(1).asInt(-1);
                if (cls < 0 || sep < 0) throw new BadInputException(file, type + " without cls/sep ids");
                return new PostProcessor(
                        ids -> {
                            int[] out = new int[ids.length + 2];
                            out[0] = cls;
                            System.arraycopy(ids, 0, out, 1, ids.length);
                            out[ids.length + 1] = sep;
                            return out;
                        },
                        cls,
                        sep);
            }
            default -> throw new BadInputException(file, "unsupported post_processor type '" + type + "'");
        }
    }

    private static PostProcessor template(JsonNode n, Path file) {
        JsonNode single = n.path("single");
        if (!single.isArray()) throw new BadInputException(file, "TemplateProcessing without a 'single' template list");
        // Each item: an int[] of special ids, or null for the sequence itself.
        List<int[]> items = new ArrayList<>();
        for (JsonNode it : single) {
            if (it.has("SpecialToken")) {
                String id = it.get("SpecialToken").path("id").asText();
                JsonNode st = n.path("special_tokens").path(id);
                if (!st.path("ids").isArray()) {
                    throw new BadInputException(file, "TemplateProcessing special token '" + id + "' has no ids");
                }
                int[] ids = new int[st.get("ids").size()];
                for (int k = 0; k < ids.length; k++)
                    ids[k] = st.get("ids").get(k).asInt();
                items.add(ids);
            } else if (it.has("Sequence")) {
                String seq = it.get("Sequence").path("id").asText("A");
                if (!seq.equals("A"))
                    throw new BadInputException(file, "TemplateProcessing single template uses sequence " + seq);
                items.add(null);
            } else {
                throw new BadInputException(file, "unsupported TemplateProcessing item " + it);
            }
        }
        Integer first = items.isEmpty() || items.get(0) == null || items.get(0).length == 0 ? null : items.get(0)[0];
        int[] lastItem = items.isEmpty() ? null : items.get(items.size() - 1);
        Integer last = lastItem == null || lastItem.length == 0 ? null : lastItem[lastItem.length - 1];
        return new PostProcessor(
                ids -> {
                    IntList out = new IntList(ids.length + 4);
                    for (int[] it : items) out.addAll(it == null ? ids : it);
                    return out.toArray();
                },
                first,
                last);
    }
}
