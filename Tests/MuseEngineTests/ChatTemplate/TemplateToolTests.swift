// Templates that render tools: the call format read from the source, and tools, calls and results
// rendered through Qwen's template as transformers would.
import MuseCore
import Testing
@testable import MuseEngine

@Suite struct TemplateToolStyleTests {
    @Test func theCallStyleIsReadFromTheTemplate() {
        #expect(ChatTemplate.toolCallFormat(of: TemplateSources.qwen25) == .hermes)
        #expect(ChatTemplate.toolCallFormat(of: TemplateSources.llama31) == .llama3)
        #expect(ChatTemplate.toolCallFormat(of: TemplateSources.mistralNemo) == .mistral)
        #expect(ChatTemplate.toolCallFormat(of: TemplateSources.smolLM2) == nil)
    }

    @Test func toolsAndCallsRenderThroughQwensTemplate() throws {
        let template = try ChatTemplate(TemplateSources.qwen25)
        let tool = ToolSpec(name: "calculator", description: "Exact arithmetic",
                            parametersSchema: #"{"type": "object", "properties": {"expression": {"type": "string"}}}"#)
        let messages: [ChatMessage] = [
            .user("6*7?"),
            ChatMessage(role: .assistant, content: [.text("")], toolCalls: [ToolCall(id: "c1", name: "calculator", arguments: #"{"expression": "6*7"}"#)]),
            ChatMessage(role: .tool, content: [.text("42")], toolCallID: "c1"),
        ]
        let text = try template.render(messages: messages.map(\.jinjaValue), tools: [tool.jinjaValue], addGenerationPrompt: true,
                                       bosToken: "", eosToken: "<|im_end|>")
        #expect(text.contains(#""name": "calculator""#) && text.contains("<tools>"))
        #expect(text.contains("<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"6*7\"}}\n</tool_call>"))
        #expect(text.contains("<tool_response>\n42\n</tool_response>"))
    }
}
