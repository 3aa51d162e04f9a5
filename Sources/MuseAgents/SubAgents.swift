// Sub-agents: a planner splits a task into parts with roles, the parts run as agents at the same
// time (the engine batches them), and the parent writes the answer from their results.
import Foundation
import MuseCore

/// One part of a task and the role that does it.
public struct SubTask: Sendable, Equatable, Codable {
    public var role: String
    public var instruction: String
    public init(role: String, instruction: String) {
        self.role = role
        self.instruction = instruction
    }
}

public struct SubAgentLimits: Sendable, Equatable {
    /// Sub-agents per task at most (the plan is cut to this).
    public var maxAgents = 4
    /// Tokens each sub-agent may write.
    public var maxTokens = 256
    /// How deep sub-agents may nest; a sub-agent at the limit cannot spawn its own.
    public var maxDepth = 1
    public init(maxAgents: Int = 4, maxTokens: Int = 256, maxDepth: Int = 1) {
        self.maxAgents = maxAgents
        self.maxTokens = maxTokens
        self.maxDepth = maxDepth
    }
}

extension Assistant {
    /// The split used when the planner's reply cannot be read: gather, compare, recommend.
    public static let defaultSubTasks = [
        SubTask(role: "researcher", instruction: "Gather the facts that matter for the task."),
        SubTask(role: "analyst", instruction: "Compare the options or approaches, with their trade-offs."),
        SubTask(role: "writer", instruction: "Draft a clear recommendation."),
    ]

    static let plannerInstruction = """
        Split the task into at most %d independent parts that can be worked on at the same time. \
        Write one part per line as "role: what to do", nothing else.
        """

    /// Plans the task, runs the parts in parallel, and writes the answer from their results.
    /// `depth` is how deep this call already is; at `limits.maxDepth` it answers directly.
    public func runWithSubAgents(_ conversation: [ChatMessage], limits: SubAgentLimits = SubAgentLimits(),
                                 depth: Int = 0) -> AsyncThrowingStream<TraceEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let start = ContinuousClock.now
                    var run = RunState()
                    let answer: String
                    if depth >= limits.maxDepth {
                        answer = try await generate(conversation, maxTokens: maxAnswerTokens, sampling: sampling, state: &run) {
                            continuation.yield(.answer(agent: nil, text: $0))
                        }
                    } else {
                        answer = try await delegate(conversation, limits: limits, state: &run) { continuation.yield($0) }
                    }
                    continuation.yield(.done(AssistantResult(answer: answer.trimmingCharacters(in: .whitespacesAndNewlines),
                                                             reasoning: "", mode: "subagents", agents: run.agents,
                                                             usage: run.usage, seconds: (ContinuousClock.now - start).seconds)))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func delegate(_ conversation: [ChatMessage], limits: SubAgentLimits, state run: inout RunState,
                          emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> String {
        let taskText = conversation.last { $0.role == .user }?.text ?? ""
        let planner: [ChatMessage] = [.system(String(format: Self.plannerInstruction, limits.maxAgents)), .user(taskText)]
        let plan = try await generate(planner, maxTokens: 128, sampling: coldSampling, state: &run) { _ in }
        var parts = Self.parsePlan(plan)
        // One part is no split: fall back to the default team.
        if parts.count < 2 { parts = Self.defaultSubTasks }
        parts = Array(parts.prefix(max(1, limits.maxAgents)))

        let agents = parts.enumerated().map { id, part in
            emit(.subtaskStarted(id: id, role: part.role, task: part.instruction))
            return AgentRun(id: id, role: part.role, messages: [
                .system("You are the \(part.role) on a team. Your part: \(part.instruction) Be concise."),
                .user(taskText),
            ], sampling: sampling)
        }
        let done = try await runAgents(agents, maxTokens: limits.maxTokens, finished: { .subtaskFinished($0) }, state: &run, emit: emit)
        var brief = "Task: \(taskText)\n\nYour team's results:"
        for r in done { brief += "\n\n[\(r.role)]\n\(r.answer)" }
        let parent = conversation.dropLast() + [
            ChatMessage.system("You lead a team. Write the final answer to the task from your team's results."),
            ChatMessage.user(brief),
        ]
        return try await generate(Array(parent), maxTokens: maxAnswerTokens, sampling: coldSampling, state: &run) {
            emit(.answer(agent: nil, text: $0))
        }
    }

    /// "role: instruction" lines (list markers and numbering allowed); other lines are ignored.
    static func parsePlan(_ text: String) -> [SubTask] {
        text.split(separator: "\n").compactMap { raw in
            var line = raw.trimmingCharacters(in: .whitespaces)
            while let first = line.first, first == "-" || first == "*" || first.isNumber || first == "." || first == ")" || first == " " {
                line.removeFirst()
            }
            guard let colon = line.firstIndex(of: ":") else { return nil }
            // Roles are words: markdown emphasis and other marks around them are dropped.
            let role = String(line[..<colon].unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == " " })
                .trimmingCharacters(in: .whitespaces).lowercased()
            let instruction = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !role.isEmpty, role.split(separator: " ").count <= 3, !instruction.isEmpty else { return nil }
            return SubTask(role: role, instruction: instruction)
        }
    }
}
