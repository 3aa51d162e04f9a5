// How a conversation is handed to a chat template: the message shape Hugging Face templates expect
// ({"role", "content", "tool_calls": [{"type", "id", "function": {"name", "arguments"}}], ...}).
import MuseCore

extension ChatMessage {
    var jinjaValue: JinjaValue {
        var object: JinjaObject = ["role": .string(role.rawValue)]
        // Plain text when the message is text only (what every template handles); a list of parts
        // ({"type": "text" | "image"}) when it carries images, as multimodal templates expect.
        if hasImages {
            object["content"] = .array(content.map { part in
                switch part {
                case .text(let text): .object(["type": "text", "text": .string(text)])
                case .image(let image): .object(["type": "image", "url": .string(image.url)])
                }
            })
        } else {
            object["content"] = .string(text)
        }
        if let name { object["name"] = .string(name) }
        if !toolCalls.isEmpty {
            object["tool_calls"] = .array(toolCalls.map { call in
                // Templates print arguments with `tojson` or iterate them: give them the object
                // when the text is JSON, the text itself otherwise.
                let arguments = (try? JinjaValue(jsonString: call.arguments)) ?? .string(call.arguments)
                return .object([
                    "type": "function", "id": .string(call.id),
                    "function": .object(["name": .string(call.name), "arguments": arguments]),
                ])
            })
        }
        if let toolCallID { object["tool_call_id"] = .string(toolCallID) }
        return .object(object)
    }
}

extension ToolSpec {
    /// `{"type": "function", "function": {"name", "description", "parameters"}}`, as templates expect.
    var jinjaValue: JinjaValue {
        let parameters = (try? JinjaValue(jsonString: parametersSchema)) ?? .object([:])
        return .object([
            "type": "function",
            "function": .object(["name": .string(name), "description": .string(description), "parameters": parameters]),
        ])
    }
}
