package bitnet.engine.compress;

import bitnet.io.DType;
import bitnet.io.StreamingSafetensorsWriter;
import bitnet.io.StreamingSafetensorsWriter.Spec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Test helper: writes a Llama-shaped HF checkpoint of random BF16 weights (uniform in ±0.05,
 * untied lm_head), sharded by layers into N files plus model.safetensors.index.json, one tensor in
 * memory at a time (so a multi-GB model needs no heap). Weights are random, so only shapes,
 * formats and arithmetic can be checked on it, not quality. Also a main for src/scripts/stream-3gb.sh
 * and bench/generate-large.sh: {@code SyntheticModel DIR LAYERS HIDDEN INTERMEDIATE VOCAB SHARDS [PEAKED]}.
 *
 * <p>Random weights give near-tied logits (top-1/top-2 gap ~0.15 standard deviations of a position's
 * logits at vocab 32000), so top-1 comparisons between two implementations flip on rounding noise.
 * PEAKED = K > 0 gives a model with peaked outputs: embeddings scaled by K, and lm_head row v = the
 * embedding row of token (v + 1) mod vocab, so the residual stream's input-token part votes for
 * token x - 1 (a bigram) while the random layers add their own part; with K = 40 at width 2048
 * the layers' part is a few times the embedding's and the top-1 margin is several standard deviations
 * on most positions (bench/llamacpp/margins.py measures it).
 */
public final class SyntheticModel {
    private SyntheticModel() {}

    public static void main(String[] a) throws IOException {
        Path dir = Path.of(a[0]);
        long bytes = write(
                dir,
                Integer.parseInt(a[1]),
                Integer.parseInt(a[2]),
                Integer.parseInt(a[3]),
                Integer.parseInt(a[4]),
                Integer.parseInt(a[5]),
                1,
                a.length > 6 ? Float.parseFloat(a[6]) : 0f);
        System.out.printf(Locale.ROOT, "wrote %s: %.3f GB of BF16 weights%n", dir, bytes / 1e9);
    }

    /** Writes the model; returns the bytes of weight data written. */
    public static long write(Path dir, int layers, int hidden, int inter, int vocab, int shards, long seed)
            throws IOException {
        return write(dir, layers, hidden, inter, vocab, shards, seed, 0f);
    }

    /** As above; peaked > 0: embeddings times peaked and lm_head = embeddings shifted by one row (class comment). */
    public static long write(
            Path dir, int layers, int hidden, int inter, int vocab, int shards, long seed, float peaked)
            throws IOException {
        Files.createDirectories(dir);
        int heads = Math.max(1, hidden / 64);
        Files.writeString(
                dir.resolve("config.json"),
                String.format(Locale.ROOT, """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d,
                 "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
                 "num_key_value_heads": %d, "vocab_size": %d, "max_position_embeddings": 256,
                 "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": false,
                 "hidden_act": "silu", "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2}
                """, hidden, inter, layers, heads, heads, vocab));
        List<List<Spec>> perShard = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            perShard.add(new ArrayList<>());
        }
        perShard.get(0).add(new Spec("model.embed_tokens.weight", DType.BF16, new long[] {vocab, hidden}));
        for (int l = 0; l < layers; l++) {
            List<Spec> sh = perShard.get((int) ((long) l * shards / layers));
            String p = "model.layers." + l + ".";
            sh.add(new Spec(p + "input_layernorm.weight", DType.BF16, new long[] {hidden}));
            sh.add(new Spec(p + "post_attention_layernorm.weight", DType.BF16, new long[] {hidden}));
            for (String w : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                sh.add(new Spec(p + "self_attn." + w + ".weight", DType.BF16, new long[] {hidden, hidden}));
            }
            sh.add(new Spec(p + "mlp.gate_proj.weight", DType.BF16, new long[] {inter, hidden}));
            sh.add(new Spec(p + "mlp.up_proj.weight", DType.BF16, new long[] {inter, hidden}));
            sh.add(new Spec(p + "mlp.down_proj.weight", DType.BF16, new long[] {hidden, inter}));
        }
        perShard.get(shards - 1).add(new Spec("model.norm.weight", DType.BF16, new long[] {hidden}));
        perShard.get(shards - 1).add(new Spec("lm_head.weight", DType.BF16, new long[] {vocab, hidden}));

        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        ByteBuffer embedding = null; // (vocab, hidden) BF16, kept for the peaked lm_head
        for (int s = 0; s < shards; s++) {
            String name = shards == 1
                    ? "model.safetensors"
                    : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", s + 1, shards);
            try (StreamingSafetensorsWriter w =
                    new StreamingSafetensorsWriter(dir.resolve(name), perShard.get(s), Map.of("format", "pt"))) {
                for (Spec sp : perShard.get(s)) {
                    ByteBuffer b =
                            ByteBuffer.allocate(Math.toIntExact(sp.bytes())).order(ByteOrder.LITTLE_ENDIAN);
                    boolean norm = sp.shape().length == 1;
                    boolean embed = sp.name().equals("model.embed_tokens.weight");
                    if (peaked > 0 && sp.name().equals("lm_head.weight")) {
                        int row = 2 * hidden; // row v = embedding row (v + 1) % vocab
                        b.put(embedding.slice(row, (vocab - 1) * row)).put(embedding.slice(0, row));
                    }
                    while (b.hasRemaining()) {
                        float v = norm ? 1f + 0.1f * (rnd.nextFloat() - 0.5f) : 0.1f * (rnd.nextFloat() - 0.5f);
                        b.putShort(DType.floatToBf16(embed && peaked > 0 ? v * peaked : v));
                    }
                    if (embed && peaked > 0) {
                        embedding = b.duplicate().flip();
                    }
                    w.write(sp.name(), b.flip());
                    weightMap.put(sp.name(), name);
                    total += sp.bytes();
                }
                w.finish();
            }
        }
        if (shards > 1) {
            StringBuilder j = new StringBuilder("{\"metadata\": {\"total_size\": " + total + "}, \"weight_map\": {");
            String sep = "";
            for (var e : weightMap.entrySet()) {
                j.append(sep)
                        .append('"')
                        .append(e.getKey())
                        .append("\": \"")
                        .append(e.getValue())
                        .append('"');
                sep = ", ";
            }
            Files.writeString(
                    dir.resolve("model.safetensors.index.json"), j.append("}}").toString());
        }
        return total;
    }
}
