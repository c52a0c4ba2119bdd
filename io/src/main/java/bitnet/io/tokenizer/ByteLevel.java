package bitnet.io.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2's reversible byte-to-printable-char table ({@code bytes_to_unicode}): printable Latin-1
 * bytes map to themselves, the other 68 bytes to U+0100.. in order. Used by the ByteLevel
 * pre-tokenizer (bytes of UTF-8 to chars) and decoder (chars back to bytes). Nothing else.
 */
final class ByteLevel {
    private ByteLevel() {}

    static final char[] BYTE_TO_CHAR = new char[256];
    // Inverse over the chars the table produces (all below U+0144); -1 elsewhere.
    static final int[] CHAR_TO_BYTE = new int[0x144];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    /** UTF-8 bytes of s, each turned into its table char. */
    static String encode(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        return new String(out);
    }

    /** The byte a table char stands for, or -1 when c is not in the table. */
    static int byteOf(int c) {
        return c >= 0 && c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}
