// What the assistant does, as data: the CLI, the API and the web page render the same events.
import MuseCore

/// One agent's contribution to a run.
public struct AgentRecord: Sendable, Equatable {
    public var id: Int
    public var role: String
    public var answer: String
    public var tokens: Int
    public var seconds: Double
    /// Why the agent produced nothing, when it failed.
    public var failure: String?
    /// What a Contemplating agent reasoned before its answer line (empty for other agents).
    public var reasoning: String = ""
}

public struct AssistantResult: Sendable {
    public var answer: String
    public var reasoning: String
    public var mode: String
    public var agents: [AgentRecord]
    public var usage: Usage
    public var seconds: Double
    /// Tool calls made on the way to the answer.
    public var toolCalls: Int = 0
    /// Calls to tools the caller runs (see `Tool.runsOnCaller`): the run ended with them, for the
    /// caller to answer in the next turn.
    public var callsToRun: [ToolCall] = []
}

public enum TraceEvent: Sendable {
    case agentStarted(id: Int, role: String, perspective: String)
    /// Reasoning text, of an agent or (agent nil) of the main line.
    case reasoning(agent: Int?, text: String)
    /// Answer text of an agent, or (agent nil) of the final answer.
    case answer(agent: Int?, text: String)
    case agentFinished(AgentRecord)
    /// Short answers decided by majority: the winner and the count of each normalised answer.
    case vote(winner: String, counts: [String: Int])
    /// Agreements, disagreements and checks distilled from the agents' answers.
    case distilled(summary: String)
    /// The final answer is being written from the distilled summary.
    case refining
    /// A sub-agent took its part of a task.
    case subtaskStarted(id: Int, role: String, task: String)
    /// A sub-agent's result, returned to the parent.
    case subtaskFinished(AgentRecord)
    /// A tool call the model made (agent nil: the main line).
    case toolCall(agent: Int?, call: ToolCall)
    /// What the call returned (an error result included).
    case toolResult(agent: Int?, result: ToolResult)
    /// A call the model began but that could not be read (cut short by the token limit, not JSON,
    /// arguments of the wrong shape); `error` is what went back to the model.
    case unreadableToolCall(agent: Int?, error: String)
    case done(AssistantResult)
}
