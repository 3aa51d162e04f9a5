// The worker pool runs every share of a job exactly once, job after job.
import Synchronization
import Testing
@testable import MuseEngine

@Suite struct WorkerPoolTests {
    @Test(arguments: [1, 2, 3])
    func parallelForCoversEveryIndexOnce(threads: Int) {
        let pool = WorkerPool(threads: threads)
        for count in [0, 1, 5, 64, 1000] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            pool.parallelFor(count, granule: 8) { range in
                for i in range { hits[i] += 1 }
            }
            #expect(hits.prefix(count).allSatisfy { $0 == 1 }, "count \(count)")
        }
    }

    @Test func manyJobsInARowComplete() {
        let pool = WorkerPool(threads: 2)
        let total = Atomic<Int>(0)
        for _ in 0..<10_000 {
            pool.run { _ in total.add(1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 20_000)
    }
}
