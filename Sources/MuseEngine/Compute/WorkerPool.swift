// A persistent pool of compute threads: the forward pass splits each matmul across them without
// creating a thread or a task per operation. Workers spin briefly between jobs (the next job
// usually follows within microseconds), then sleep.
import CMuseKernels
import Foundation
import Synchronization

public final class WorkerPool: @unchecked Sendable {
    /// Threads taking part in each job, the caller's included.
    public let threadCount: Int

    // `job` is written by `run` before `epoch` is bumped (release) and read by workers after they
    // see the new epoch (acquire); it is cleared only once every worker has reported done.
    private nonisolated(unsafe) var job: ((Int) -> Void)?
    private let epoch = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// The next chunk of a `parallelChunks` job, reset by every `run`.
    private let nextChunk = Atomic<Int>(0)
    private let wake = NSCondition()
    private var threads: [Thread] = []
    /// Serialises callers: one job at a time.
    private let runLock = NSLock()

    /// Spin iterations before a waiting worker sleeps (tens of microseconds).
    private static let spinLimit = 20_000

    /// Physical cores (hyper-threads share a core's vector units, so more threads than cores only
    /// contend): distinct (physical id, core id) pairs in /proc/cpuinfo, else the logical count.
    public static var physicalCores: Int {
        let logical = ProcessInfo.processInfo.activeProcessorCount
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return logical }
        var cores = Set<String>()
        var physical = ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "physical id" { physical = parts[1] }
            if parts[0] == "core id" { cores.insert(physical + "/" + parts[1]) }
        }
        return cores.isEmpty ? logical : min(cores.count, logical)
    }

    public init(threads: Int) {
        threadCount = max(1, threads)
        for index in 1..<threadCount {
            let thread = Thread { [unowned(unsafe) self] in self.workerLoop(index: index) }
            thread.name = "muse-worker-\(index)"
            thread.stackSize = 1 << 20
            self.threads.append(thread)
            thread.start()
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        wake.lock()
        epoch.add(1, ordering: .releasing)
        wake.broadcast()
        wake.unlock()
        // Workers hold an unowned reference; wait until they have all left their loop.
        while pending.load(ordering: .acquiring) > -(threadCount - 1) { muse_cpu_relax() }
    }

    /// Runs `body(worker)` once for every worker index in 0..<threadCount, in parallel, and returns
    /// when all are done. The calling thread is worker 0.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        runLock.lock()
        defer { runLock.unlock() }
        withoutActuallyEscaping(body) { body in
            job = body
            nextChunk.store(0, ordering: .relaxed)
            pending.store(threadCount - 1, ordering: .relaxed)
            wake.lock()
            epoch.add(1, ordering: .releasing)
            wake.broadcast()
            wake.unlock()
            body(0)
            while pending.load(ordering: .acquiring) != 0 { muse_cpu_relax() }
            job = nil
        }
    }

    /// Splits 0..<count into one contiguous range per worker (multiples of `granule` except the
    /// last) and runs `body(range)` for each non-empty one in parallel.
    public func parallelFor(_ count: Int, granule: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + granule - 1) / granule
        let workers = min(threadCount, units)
        if workers <= 1 { body(0..<count); return }
        run { worker in
            guard worker < workers else { return }
            let lo = units * worker / workers * granule
            let hi = min(count, units * (worker + 1) / workers * granule)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Splits 0..<count into chunks (multiples of `granule` except the last) that the workers take
    /// in turn as each finishes the one before, each chunk a fraction of what is left: large at
    /// first, down to one granule at the end. A worker slowed by the machine, or by its share of
    /// memory bandwidth, takes less, and none waits at the end for more than one granule.
    public func parallelChunks(_ count: Int, granule: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + granule - 1) / granule
        if threadCount == 1 || units == 1 { body(0..<count); return }
        let share = 2 * threadCount
        run { _ in
            var lo = nextChunk.load(ordering: .relaxed)
            while lo < units {
                let hi = min(units, lo + max(1, (units - lo) / share))
                let (taken, seen) = nextChunk.compareExchange(expected: lo, desired: hi, ordering: .relaxed)
                if taken {
                    body((lo * granule)..<min(count, hi * granule))
                    lo = hi
                } else {
                    lo = seen
                }
            }
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while epoch.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit { muse_cpu_relax(); continue }
                wake.lock()
                while epoch.load(ordering: .acquiring) == seen { wake.wait() }
                wake.unlock()
            }
            seen = epoch.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) {
                pending.subtract(1, ordering: .releasing)
                return
            }
            job?(index)
            pending.subtract(1, ordering: .releasing)
        }
    }
}
