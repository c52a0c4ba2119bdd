package bitnet.kernels.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A small fixed pool of daemon worker threads (threads - 1 of them; the calling thread is the
 * last worker) that runs index-parallel loops for the CPU kernels. It is not a general executor:
 * one loop at a time, no futures; a nested or concurrent call simply runs on the calling thread,
 * which keeps kernels that call kernels deadlock-free.
 *
 * <p>Two shapes of loop: {@link #forTasks} hands task indices out dynamically (GEMM tiles, attention
 * heads: uneven costs), {@link #forChunks} splits a range statically into at most
 * {@link #threads()} contiguous chunks, so reductions that keep one partial per chunk give the same
 * result on every run with the same thread count.
 */
public final class Parallel implements AutoCloseable {

    /** A loop body over task indices. */
    @FunctionalInterface
    public interface Tasks {
        void run(int task);
    }

    /** A loop body over one contiguous chunk [lo, hi) of a range; chunk is its index. */
    @FunctionalInterface
    public interface Chunks {
        void run(int chunk, int lo, int hi);
    }

    /** Idle spins (Thread.onSpinWait) before a worker parks; tuning runs only. */
    private static final int SPINS = Integer.getInteger("bitnet.parallel.spins", 4_000);

    private final int threads;
    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();

    // the loop being run: published by the volatile write to generation
    private Tasks job;
    private int jobTasks;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private volatile int generation;
    private volatile Throwable failure;
    private volatile Thread caller;
    private volatile boolean closed;

    /** @param threads worker count including the caller; 0 means all available processors */
    public Parallel(int threads) {
        this.threads = threads <= 0 ? Runtime.getRuntime().availableProcessors() : threads;
        workers = new Worker[this.threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i);
            workers[i].start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Work (multiply-adds or comparable element operations) below which a loop is not worth waking
     * a worker for: a hand-off costs a few µs, and batch-1 generation calls kernels of a few
     * thousand operations each (the demo model decoded slower on 2 threads than on 1 before this).
     */
    public static final long MIN_WORK = 1 << 15;

    /** {@link #forTasks(int, Tasks)}, or a plain loop on the caller when work < {@link #MIN_WORK}. */
    public void forTasks(int n, long work, Tasks body) {
        if (work < MIN_WORK) {
            for (int i = 0; i < n; i++) {
                body.run(i);
            }
        } else {
            forTasks(n, body);
        }
    }

    /** Runs body(0 .. n-1), each index exactly once, spread over the pool; returns when all are done. */
    public void forTasks(int n, Tasks body) {
        if (n <= 0) {
            return;
        }
        if (n == 1 || workers.length == 0 || Jit.busy() || !busy.compareAndSet(false, true)) {
            for (int i = 0; i < n; i++) {
                body.run(i);
            }
            return;
        }
        try {
            job = body;
            jobTasks = n;
            failure = null;
            next.set(0);
            pending.set(workers.length);
            caller = Thread.currentThread();
            generation++;
            for (Worker w : workers) {
                LockSupport.unpark(w);
            }
            try {
                drain(body, n);
            } catch (Throwable t) {
                // workers may still be inside this loop: stop handing out tasks, wait for them
                failure = t;
                next.set(Integer.MAX_VALUE / 2);
            }
            // the workers are usually on their last task: spin before parking, as they do between
            // loops (a parked caller's core may halt, and its wake-up then costs more than the wait)
            for (int s = 0; pending.get() > 0 && s < SPINS; s++) {
                Thread.onSpinWait();
            }
            while (pending.get() > 0) {
                LockSupport.park(this);
            }
            job = null;
            Throwable f = failure;
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
            if (f != null) {
                throw new RuntimeException(f);
            }
        } finally {
            busy.set(false);
        }
    }

    /**
     * Splits [0, n) into at most threads() contiguous chunks of at least minChunk elements and runs
     * body on each. The split depends only on n, minChunk and the thread count.
     */
    public void forChunks(int n, int minChunk, Chunks body) {
        int chunks = chunkCount(n, minChunk);
        if (chunks <= 1) {
            if (n > 0) {
                body.run(0, 0, n);
            }
            return;
        }
        forTasks(chunks, c -> body.run(c, chunkLo(n, chunks, c), chunkLo(n, chunks, c + 1)));
    }

    /** How many chunks {@link #forChunks} uses for (n, minChunk). */
    public int chunkCount(int n, int minChunk) {
        return (int) Math.max(1, Math.min(threads, n / Math.max(1, (long) minChunk)));
    }

    private static int chunkLo(int n, int chunks, int c) {
        return (int) ((long) n * c / chunks);
    }

    /**
     * A kernel's start-up allowance of scalar-twin work, in elements (see {@link #scalarTwin}).
     * Racy by design: an approximate count, and either path gives the same bits.
     */
    public static final class ColdBudget {
        private long left;

        /** About three 256-token forwards of a 15.7M Llama: a few milliseconds of C1/C2 scalar work. */
        public ColdBudget() {
            this(4_000_000L);
        }

        public ColdBudget(long elements) {
            left = (long) (elements * SCALE);
        }

        /** Takes work from what is left when it all fits, else closes the budget (see {@link #scalarTwin}). */
        boolean take(long work) {
            if (work > left) {
                left = 0;
                return false;
            }
            left -= work;
            return true;
        }

        /** -Dbitnet.coldBudget.scale multiplies every budget (0 turns the twins off; for measurements). */
        private static final double SCALE = Double.parseDouble(System.getProperty("bitnet.coldBudget.scale", "1"));
    }

    /**
     * Whether a kernel should run its scalar twin (plain loops with the same float operations, so the
     * same bits) for this call's work instead of its Vector API code: while the JIT is still
     * compiling the start-up's hot code ({@link Jit}) and the call fits in what is left of the
     * kernel's budget. C1 compiles a plain loop within milliseconds; the Vector API code runs its
     * Java fallback, 10-100x slower, until C2 gets to it.
     *
     * <p>All or nothing per call, and the first call that does not fit closes the budget: a twin
     * does not warm the vector code, it only postpones its warm-up, so it pays only when the whole
     * command is short. A long command's first calls are large and go straight to the vector code
     * (with per-call budgets of a few forwards of 256 tokens, a 64-window ppl of a 15.7M Llama took
     * 11.1 s where it took 9.4 s without twins; Zen 3, interleaved medians of 6).
     */
    public static boolean scalarTwin(ColdBudget b, long work) {
        if (b.left <= 0 || !Jit.busy()) {
            return false;
        }
        return b.take(work);
    }

    /**
     * Whether the JIT compilers are busy (start-up): then loops run on the calling thread alone and
     * leave the other cores to the compiler threads. Until C2 has compiled the kernels they run as
     * interpreted or C1 code through the Vector API's Java fallback, 10-100x slower, so a second
     * thread gains little and takes a core from C2: one 256-token window of a 15.7M Llama ran its
     * forward in 2.1 s on 1 thread and 2.9 s on 2 (Zen 3, 2 cores). The JIT counts as busy while
     * its accumulated compile time grew by more than a quarter of the wall time of the last
     * interval of 100 ms; after two quiet intervals in a row (or 20 s) it is settled for good. Only
     * who runs the tasks changes, never how the work is split: results are the same bits. Without
     * java.management (or with -XX:-UsePerfData, which stops the compile-time counter) it is never
     * busy. -Dbitnet.parallel.jitAware=false turns it off.
     */
    static final class Jit {
        private Jit() {}

        private static final long INTERVAL_NS = 100_000_000L, GIVE_UP_NS = 20_000_000_000L;
        private static final java.lang.management.CompilationMXBean BEAN = bean();
        private static final long START = System.nanoTime();
        private static volatile boolean settled = BEAN == null;
        private static long lastNs = START, lastMs;
        private static int quiet;
        private static boolean busy = true;

        private static java.lang.management.CompilationMXBean bean() {
            if (!Boolean.parseBoolean(System.getProperty("bitnet.parallel.jitAware", "true"))) {
                return null;
            }
            try {
                java.lang.management.CompilationMXBean b =
                        java.lang.management.ManagementFactory.getCompilationMXBean();
                if (b == null || !b.isCompilationTimeMonitoringSupported()) {
                    return null;
                }
                lastMs = b.getTotalCompilationTime();
                return b;
            } catch (Throwable t) { // no java.management module in this runtime
                return null;
            }
        }

        /** Whether compile time grown by compileMs over an interval of intervalNs says "busy": over a quarter. */
        static boolean compiling(long intervalNs, long compileMs) {
            return compileMs * 4_000_000L > intervalNs;
        }

        static boolean busy() {
            if (settled) {
                return false;
            }
            synchronized (Jit.class) {
                long now = System.nanoTime();
                if (now - lastNs >= INTERVAL_NS) {
                    long ms = BEAN.getTotalCompilationTime();
                    busy = compiling(now - lastNs, ms - lastMs);
                    quiet = busy ? 0 : quiet + 1;
                    lastNs = now;
                    lastMs = ms;
                    if (quiet >= 2 || now - START > GIVE_UP_NS) {
                        busy = false;
                        settled = true;
                    }
                }
                return busy;
            }
        }
    }

    private void drain(Tasks body, int n) {
        for (int i; (i = next.getAndIncrement()) < n; ) {
            body.run(i);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) {
            LockSupport.unpark(w);
        }
    }

    private final class Worker extends Thread {
        private int seen;

        Worker(int i) {
            super("bitnet-cpu-" + i);
            setDaemon(true);
        }

        @Override
        public void run() {
            int spins = 0;
            while (!closed) {
                int g = generation;
                if (g == seen) {
                    // spin briefly: kernels are called back to back, a park/unpark costs ~10-50 µs
                    if (++spins < SPINS) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                    continue;
                }
                spins = 0;
                seen = g;
                try {
                    drain(job, jobTasks);
                } catch (Throwable t) {
                    failure = t;
                    next.set(Integer.MAX_VALUE / 2);
                } finally {
                    if (pending.decrementAndGet() == 0) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }
    }
}
