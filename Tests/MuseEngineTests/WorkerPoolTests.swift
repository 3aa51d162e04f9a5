// The worker pool runs every share of a job exactly once, job after job, split evenly or in chunks.
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

    @Test(arguments: [1, 2, 3])
    func chunksCoverEveryIndexOnceInWholeGranules(threads: Int) {
        let pool = WorkerPool(threads: threads)
        for count in [0, 1, 5, 8, 9, 64, 1000, 151_936] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            let chunks = Mutex<[Range<Int>]>([])
            pool.parallelChunks(count, granule: 8) { range in
                for i in range { hits[i] += 1 }
                chunks.withLock { $0.append(range) }
            }
            #expect(hits.prefix(count).allSatisfy { $0 == 1 }, "count \(count)")
            let taken = chunks.withLock { $0 }
            // Every chunk starts on a granule and is whole but for the one at the end.
            #expect(taken.allSatisfy { $0.lowerBound % 8 == 0 && ($0.count % 8 == 0 || $0.upperBound == count) }, "\(taken)")
            // Many chunks for a long job, so that the last ones are small.
            if threads > 1 && count >= 1000 { #expect(taken.count >= 8 && taken.map(\.count).min() == 8, "\(taken)") }
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
