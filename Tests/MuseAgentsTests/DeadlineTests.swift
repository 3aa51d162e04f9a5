// A tool's deadline: its result when it answers in time, a timeout otherwise, and the work cancelled
// even when the deadline passes before the work has been set up.
import Foundation
import Synchronization
import Testing
@testable import MuseAgents

@Suite struct DeadlineTests {
    @Test func aQuickOperationGivesItsResult() async throws {
        let value = try await withDeadline(.seconds(10)) { 42 }
        #expect(value == 42)
    }

    @Test(arguments: [Duration.zero, .milliseconds(20)])
    func aSlowOperationTimesOutAndIsCancelled(limit: Duration) async throws {
        final class Flag: Sendable { let value = Atomic<Bool>(false) }
        let cancelled = Flag()
        await #expect(throws: ToolTimeout.self) {
            _ = try await withDeadline(limit) {
                do { try await Task.sleep(for: .seconds(30)) } catch { cancelled.value.store(true, ordering: .relaxed) }
                return 0
            }
        }
        for _ in 0..<200 where !cancelled.value.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
        let wasCancelled = cancelled.value.load(ordering: .relaxed)
        #expect(wasCancelled)
    }
}
