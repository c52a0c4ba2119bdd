package bitnet.engine.cli;

import picocli.CommandLine;

/** Token ids from the command line: rows separated by ';', ids by ','; rows of equal length. */
public record Ids(int[] flat, int B, int T) {

    public static Ids parse(CommandLine cmd, String s) {
        if (s == null || s.isBlank()) {
            throw new CommandLine.ParameterException(cmd, "--ids is empty");
        }
        String[] rows = s.trim().split(";");
        int T = -1;
        int[] flat = null;
        for (int b = 0; b < rows.length; b++) {
            String[] parts = rows[b].trim().split(",");
            if (T < 0) {
                T = parts.length;
                flat = new int[rows.length * T];
            } else if (parts.length != T) {
                throw new CommandLine.ParameterException(
                        cmd,
                        "--ids rows must have equal length (row 0 has " + T + ", row " + b + " has " + parts.length
                                + ")");
            }
            for (int t = 0; t < T; t++) {
                try {
                    flat[b * T + t] = Integer.parseInt(parts[t].trim());
                } catch (NumberFormatException e) {
                    throw new CommandLine.ParameterException(cmd, "--ids: '" + parts[t].trim() + "' is not an integer");
                }
            }
        }
        return new Ids(flat, rows.length, T);
    }

    public int[] row(int b) {
        int[] r = new int[T];
        System.arraycopy(flat, b * T, r, 0, T);
        return r;
    }
}
