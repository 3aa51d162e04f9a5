// Golden tests: real model-family chat templates must render exactly as transformers renders them.
import Foundation
import MuseEngine
import Testing

struct ReferenceRender: Sendable, CustomTestStringConvertible {
    enum Expected: Sendable {
        case output(String)
        case error(String)
    }

    let family: String
    let scenario: String
    let source: String
    let messages: String
    let withTools: Bool
    let addGenerationPrompt: Bool
    let bosToken: String
    let eosToken: String
    let extra: [String: JinjaValue]
    let expected: Expected

    var testDescription: String { "\(family)/\(scenario)" }

    /// The moment the reference renders were made for: `strftime_now` reports this day.
    static let fixedNow = Date(timeIntervalSince1970: 1_741_953_600)
}

@Suite struct RealTemplateTests {
    @Test(arguments: ReferenceRender.all)
    func rendersLikeTransformers(_ case_: ReferenceRender) throws {
        let template = try ChatTemplate(case_.source)
        let messages = try JinjaValue(jsonString: case_.messages).arrayValue ?? []
        let tools = case_.withTools ? try JinjaValue(jsonString: Conversations.toolSchemas).arrayValue : nil
        let render = {
            try template.render(messages: messages, tools: tools, addGenerationPrompt: case_.addGenerationPrompt,
                                bosToken: case_.bosToken, eosToken: case_.eosToken, extra: case_.extra,
                                now: ReferenceRender.fixedNow)
        }
        switch case_.expected {
        case .output(let expected):
            let output = try render()
            #expect(output == expected)
            if output != expected { Issue.record("first difference: \(firstDifference(output, expected))") }
        case .error(let message):
            #expect(throws: ChatTemplateError.raised(message)) { try render() }
        }
    }

    @Test func everyFamilyIsCovered() {
        let families = Set(ReferenceRender.all.map(\.family))
        for family in ["smolLM2", "qwen25", "qwen3", "llama31", "llama32", "gemma2", "gemma3", "mistralNemo"] {
            #expect(families.contains(family))
        }
        let withTools = Set(ReferenceRender.all.filter(\.withTools).map(\.family))
        for family in ["qwen25", "qwen3", "llama31"] { #expect(withTools.contains(family)) }
    }

    @Test func templatesUseNoUnsupportedFeatures() throws {
        for source in Set(ReferenceRender.all.map(\.source)) {
            #expect(try ChatTemplate(source).unsupportedFeatures.isEmpty)
        }
    }

    @Test func smolLM2SingleUserTurn() throws {
        let template = try ChatTemplate(TemplateSources.smolLM2)
        let output = try template.render(messages: [["role": "user", "content": "Hello! Who are you?"]],
                                         addGenerationPrompt: true, bosToken: "", eosToken: "")
        #expect(output == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHello! Who are you?<|im_end|>\n<|im_start|>assistant\n")
    }

    /// Llama 3.2 stamps today's date through `strftime_now` unless `date_string` is given.
    @Test func llama32UsesTheRenderClock() throws {
        let template = try ChatTemplate(TemplateSources.llama32)
        let output = try template.render(messages: [["role": "user", "content": "Hi"]], addGenerationPrompt: true,
                                         bosToken: "", eosToken: "", now: ReferenceRender.fixedNow)
        #expect(output.contains("Today Date: 14 Mar 2025\n"))
        let pinned = try template.render(messages: [["role": "user", "content": "Hi"]], addGenerationPrompt: true,
                                         bosToken: "", eosToken: "", extra: ["date_string": "01 Jan 2030"])
        #expect(pinned.contains("Today Date: 01 Jan 2030\n"))
    }

    @Test func gemma2RejectsSystemRoleWithTemplateMessage() throws {
        let template = try ChatTemplate(TemplateSources.gemma2)
        do {
            _ = try template.render(messages: [["role": "system", "content": "x"], ["role": "user", "content": "y"]],
                                    addGenerationPrompt: true, bosToken: "<bos>", eosToken: "<eos>")
            Issue.record("expected raise_exception")
        } catch let error as ChatTemplateError {
            #expect(error == .raised("System role not supported"))
            #expect(error.description == "System role not supported")
        }
    }

    private func firstDifference(_ a: String, _ b: String) -> String {
        let (x, y) = (Array(a), Array(b))
        let i = zip(x, y).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(x.count, y.count)
        return "at \(i): got \(String(x[i...].prefix(60)).debugDescription), expected \(String(y[i...].prefix(60)).debugDescription)"
    }
}
