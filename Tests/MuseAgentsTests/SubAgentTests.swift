// Sub-agents on a scripted model: the plan is followed within the limits, the parts run at the
// same time, and their results reach the parent that writes the answer.
import Foundation
import MuseCore
import Testing
@testable import MuseAgents

@Suite struct SubAgentTests {
    static func teamModel(failing role: String? = nil) -> ScriptedModel {
        ScriptedModel(delay: .milliseconds(40)) { messages in
            let system = messages.first { $0.role == .system }?.text ?? ""
            if system.contains("Split the task") {
                return "1. **Researcher**: list the facts\n2. Analyst: compare the options\n- writer: recommend one\nnot a part\n4. extra: one too many"
            }
            if system.contains("You lead a team") { return "Pick SQLite." }
            if let role, system.contains("You are the \(role)") { throw Failure() }
            if system.contains("You are the researcher") { return "SQLite is a file; PostgreSQL is a server." }
            if system.contains("You are the analyst") { return "SQLite is simpler; PostgreSQL scales." }
            return "Use SQLite for a small internal tool."
        }
    }

    @Test func thePlanIsParsedAndCutToTheLimit() {
        let parts = Assistant.parsePlan("1. **Researcher**: list the facts\n2) analyst : compare\n- writer: recommend\nnoise line\nbad role with many words here: x")
        #expect(parts.map(\.role) == ["researcher", "analyst", "writer"])
        #expect(parts.first?.instruction == "list the facts")
    }

    @Test func partsRunInParallelAndReachTheParent() async throws {
        let model = Self.teamModel()
        let (events, result) = try await collect(Assistant(model: model).runWithSubAgents(
            [.user("SQLite or PostgreSQL?")], limits: SubAgentLimits(maxAgents: 3)))
        #expect(result.answer == "Pick SQLite.")
        #expect(result.agents.map(\.role) == ["researcher", "analyst", "writer"])
        let started = events.filter { if case .subtaskStarted = $0 { true } else { false } }.count
        let finished = events.filter { if case .subtaskFinished = $0 { true } else { false } }.count
        #expect(started == 3 && finished == 3)
        // The three parts overlapped in time (the planner and the parent ran before and after).
        let spans = model.spans.withLock { $0 }
        #expect(spans.count == 5)
        let parts = Array(spans.sorted { $0.start < $1.start }.dropFirst().prefix(3))
        for a in parts { for b in parts { #expect(a.start < b.end && b.start < a.end) } }
        // The parent saw every result.
        let parent = try #require(model.prompts.withLock { $0 }.last)
        #expect(parent.last?.text.contains("SQLite is a file") == true)
        #expect(parent.last?.text.contains("PostgreSQL scales") == true)
    }

    @Test func limitsHold() async throws {
        let model = Self.teamModel()
        let (_, two) = try await collect(Assistant(model: model).runWithSubAgents([.user("x")], limits: SubAgentLimits(maxAgents: 2)))
        #expect(two.agents.count == 2)
        // At the depth limit there is no planning and no team: a direct answer.
        let direct = Self.teamModel()
        let (events, result) = try await collect(Assistant(model: direct).runWithSubAgents([.user("x")], depth: 1))
        #expect(result.agents.isEmpty)
        #expect(!events.contains { if case .subtaskStarted = $0 { true } else { false } })
        #expect(direct.prompts.withLock { $0.count } == 1)
    }

    @Test func aFailingSubAgentIsLeftOut() async throws {
        let model = Self.teamModel(failing: "analyst")
        let (_, result) = try await collect(Assistant(model: model).runWithSubAgents([.user("x")]))
        #expect(result.answer == "Pick SQLite.")
        #expect(result.agents.first { $0.role == "analyst" }?.failure != nil)
        let parent = try #require(model.prompts.withLock { $0 }.last)
        #expect(parent.last?.text.contains("[analyst]") == false)
    }
}
