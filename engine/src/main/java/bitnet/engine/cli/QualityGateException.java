package bitnet.engine.cli;

/** A compress quality gate failed (exit code 4); outputs were still written. */
public class QualityGateException extends RuntimeException {
    public QualityGateException(String message) {
        super(message);
    }
}
