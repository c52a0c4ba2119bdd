package bitnet.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

class TernaryPackingTest {

    private static byte[] random(int n, long seed) {
        Random r = new Random(seed);
        byte[] q = new byte[n];
        for (int i = 0; i < n; i++) {
            q[i] = (byte) (r.nextInt(3) - 1);
        }
        return q;
    }

    private static void roundTrip(byte[] q, int rows, int cols) {
        for (Packing p : Packing.values()) {
            byte[] packed = TernaryPacking.pack(p, q, rows, cols);
            assertEquals(TernaryPacking.packedBytes(p, rows, cols), packed.length, p + " size");
            assertEquals((long) rows * ((cols + p.perByte() - 1) / p.perByte()), packed.length);
            assertArrayEquals(q, TernaryPacking.unpack(p, packed, rows, cols), p + " " + rows + "x" + cols);
        }
    }

    @Test
    void randomShapes() {
        int[][] shapes = {{1, 1}, {1, 7}, {7, 1}, {3, 4}, {3, 5}, {5, 13}, {13, 255}, {2, 4097}, {1, 20}, {9, 6}};
        long seed = 1;
        for (int[] s : shapes) {
            roundTrip(random(s[0] * s[1], seed++), s[0], s[1]);
        }
    }

    @Test
    void constantMatrices() {
        for (int v = -1; v <= 1; v++) {
            for (int cols : new int[] {1, 3, 4, 5, 6, 11}) {
                byte[] q = new byte[4 * cols];
                java.util.Arrays.fill(q, (byte) v);
                roundTrip(q, 4, cols);
            }
        }
    }

    @Test
    void large() {
        roundTrip(random(512 * 1031, 99), 512, 1031);
    }

    @Test
    void exactBitLayout() {
        // -1, 0, +1, +1 | -1 -> codes 0,1,2,2 -> 0b10_10_01_00; second byte: code 0 then padding code 1
        byte[] q = {-1, 0, 1, 1, -1};
        byte[] p2 = TernaryPacking.pack2bit(q, 1, 5);
        assertEquals((byte) 0b10100100, p2[0]);
        assertEquals((byte) 0b01010100, p2[1]);
        byte[] p3 = TernaryPacking.packBase3(q, 1, 5);
        assertEquals(1, p3.length);
        assertEquals(0 + 1 * 3 + 2 * 9 + 2 * 27 + 0 * 81, p3[0] & 0xff);
    }

    @Test
    void rejectsInvalid() {
        assertThrows(IllegalArgumentException.class, () -> TernaryPacking.pack2bit(new byte[] {2}, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> TernaryPacking.packBase3(new byte[] {-2}, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> TernaryPacking.unpack2bit(new byte[] {3}, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> TernaryPacking.unpackBase3(new byte[] {(byte) 243}, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> TernaryPacking.unpack2bit(new byte[2], 1, 4));
        assertThrows(IllegalArgumentException.class, () -> TernaryPacking.pack2bit(new byte[3], 2, 2));
        assertThrows(IllegalArgumentException.class, () -> Packing.parse("3bit"));
        assertEquals(Packing.BASE3, Packing.parse("base3"));
    }
}
