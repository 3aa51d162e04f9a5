// spawn_agents: the model splits a task itself, through a tool call. Each part runs as a sub-agent
// with its role, all at the same time (the engine batches them), and their results come back as
// the call's result. Sub-agents get no tools, so they cannot spawn their own (depth 1).
import Foundation
import MuseCore

/// A tool that reports progress while it runs: its events join the assistant's trace.
public protocol TracingTool: Tool {
    func call(arguments: String, emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> String
}

extension TracingTool {
    public func call(arguments: String) async throws -> String {
        try await call(arguments: arguments) { _ in }
    }
}

public struct SpawnAgentsTool: TracingTool {
    public let name = "spawn_agents"
    public let description = """
        Split a task into independent parts that sub-agents work on at the same time, each in a role \
        (for example one gathers facts, one compares options, one drafts a recommendation). \
        Returns each part's result.
        """
    public var parametersSchema: String {
        """
        {"type": "object", "properties": {"tasks": {"type": "array", "minItems": 1, "maxItems": \(limits.maxAgents), "items": \
        {"type": "object", "properties": {"role": {"type": "string", "maxLength": 40}, "task": {"type": "string", "maxLength": 400}}, \
        "required": ["role", "task"]}}}, "required": ["tasks"]}
        """
    }

    /// Sub-agents write whole answers: more than a tool call usually takes.
    public var timeLimit: Duration? { .seconds(600) }

    /// Runs the sub-agents: its model and sampling; its tools are not passed on.
    let assistant: Assistant
    let limits: SubAgentLimits

    public init(assistant: Assistant, limits: SubAgentLimits = SubAgentLimits()) {
        var plain = assistant
        plain.tools = nil
        self.assistant = plain
        self.limits = limits
    }

    public func call(arguments: String, emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> String {
        let parts = try Self.parts(arguments).prefix(max(limits.maxAgents, 1))
        let agents = parts.enumerated().map { id, part in
            emit(.subtaskStarted(id: id, role: part.role, task: part.instruction))
            return AgentRun(id: id, role: part.role, messages: [
                .system("You are the \(part.role) on a team. Your part: \(part.instruction) Be concise."),
                .user(part.instruction),
            ], sampling: assistant.sampling)
        }
        var run = RunState()
        let done = try await assistant.runAgents(agents, maxTokens: limits.maxTokens, finished: { .subtaskFinished($0) },
                                                 state: &run, emit: emit)
        return done.map { "[\($0.role)] \($0.answer)" }.joined(separator: "\n\n")
    }

    static func parts(_ arguments: String) throws(ToolError) -> [SubTask] {
        guard case .array(let tasks)? = (try? ToolArguments(arguments, example: ""))?["tasks"], !tasks.isEmpty else {
            throw .badArguments(#"expected {"tasks": [{"role": ..., "task": ...}, ...]}"#)
        }
        return try tasks.map { task throws(ToolError) in
            guard case .string(let role)? = task["role"], case .string(let text)? = task["task"],
                  !role.trimmingCharacters(in: .whitespaces).isEmpty, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw .badArguments("each task needs a non-empty \"role\" and \"task\"")
            }
            return SubTask(role: role, instruction: text)
        }
    }
}
