// The agent trace on the wire: one JSON object per event, `{"type": ..., ...}`, carried in the
// `muse` extension field of chunks and responses (standard clients ignore it).
import MuseAgents
import MuseCore

enum TraceJSON {
    static func value(of event: TraceEvent) -> JSONValue {
        switch event {
        case let .agentStarted(id, role, perspective):
            return ["type": "agent_started", "agent": .number(JSONNumber(id)), "role": .string(role), "perspective": .string(perspective)]
        case let .reasoning(agent, text):
            return ["type": "reasoning", "agent": agentValue(agent), "text": .string(text)]
        case let .answer(agent, text):
            return ["type": "answer", "agent": agentValue(agent), "text": .string(text)]
        case .agentFinished(let record):
            return ["type": "agent_finished", "agent": record.json]
        case let .vote(winner, counts):
            return ["type": "vote", "winner": .string(winner), "counts": .object(JSONObject(counts.sorted { $0.key < $1.key }.map { ($0.key, .number(JSONNumber($0.value))) }))]
        case .distilled(let summary):
            return ["type": "distilled", "summary": .string(summary)]
        case .refining:
            return ["type": "refining"]
        case let .subtaskStarted(id, role, task):
            return ["type": "subtask_started", "agent": .number(JSONNumber(id)), "role": .string(role), "task": .string(task)]
        case .subtaskFinished(let record):
            return ["type": "subtask_finished", "agent": record.json]
        case let .toolCall(agent, call):
            return ["type": "tool_call", "agent": agentValue(agent), "id": .string(call.id), "name": .string(call.name),
                    "arguments": .string(call.arguments)]
        case let .toolResult(agent, result):
            return ["type": "tool_result", "agent": agentValue(agent), "id": .string(result.callID), "name": .string(result.name),
                    "content": .string(result.content), "is_error": .bool(result.isError)]
        case let .unreadableToolCall(agent, error):
            return ["type": "tool_call_unreadable", "agent": agentValue(agent), "error": .string(error)]
        case .done(let result):
            return ["type": "done", "mode": .string(result.mode), "seconds": .number(JSONNumber(result.seconds)),
                    "agents": .array(result.agents.map(\.json))]
        }
    }

    private static func agentValue(_ agent: Int?) -> JSONValue {
        agent.map { .number(JSONNumber($0)) } ?? .null
    }
}

extension AgentRecord {
    var json: JSONValue {
        ["id": .number(JSONNumber(id)), "role": .string(role), "answer": .string(answer), "tokens": .number(JSONNumber(tokens)),
         "seconds": .number(JSONNumber(seconds)), "failure": failure.map(JSONValue.string) ?? .null]
    }
}
