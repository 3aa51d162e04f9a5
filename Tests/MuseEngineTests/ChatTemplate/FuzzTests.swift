// Random token soup must always end in output or a ChatTemplateError, never a crash or a hang.
import MuseEngine
import Testing

@Suite struct FuzzTests {
    static let pieces = [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", " if ", " for ", " in ", " endif ", " endfor ",
        " else ", " elif ", " set ", " macro ", " endmacro ", " call ", " endcall ", " x ", " messages ", " loop.index ",
        " ns.a ", " namespace(a=1) ", " range(3) ", "|", "trim", "tojson", "length", "join(',')", "(", ")", "[", "]",
        "{", "}", ",", ":", ".", "=", "==", "+", "-", "*", "//", "%", "**", "~", " and ", " or ", " not ", " is ",
        " defined ", " none ", "'s'", "\"q\\n\"", "1", "2.5", "-3", "\n", " ", "text", "\\", "'", "\"", "0x", "1e",
        " break ", " continue ", " raw ", " endraw ", " with ", " endwith ", " filter ", " upper ", " endfilter ",
    ]

    @Test func randomTemplatesNeverCrash() {
        var rng = SeededRandom(seed: 0x5EED)  // a fixed seed keeps the run reproducible
        let context: [String: JinjaValue] = [
            "messages": [["role": "user", "content": "hi"], ["role": "assistant", "content": "yo"]],
            "x": ["a": [1, 2], "b": "s"],
        ]
        let limits = ChatTemplate.Limits(maxOutputBytes: 100_000, maxSteps: 100_000)
        var rendered = 0
        for _ in 0..<3_000 {
            let count = Int.random(in: 1...24, using: &rng)
            let source = (0..<count).map { _ in Self.pieces.randomElement(using: &rng) ?? "" }.joined()
            do {
                _ = try ChatTemplate(source, limits: limits).render(context)
                rendered += 1
            } catch is ChatTemplateError {
                continue
            } catch {
                Issue.record("non-template error \(error) for \(source.debugDescription)")
            }
        }
        #expect(rendered > 0)
    }
}
