// Random token soup must always end in output or a ChatTemplateError, never a crash or a hang.
import MuseEngine
import Testing

@Suite struct FuzzTests {
    /// SplitMix64: a fixed seed keeps the run reproducible.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let pieces = [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", " if ", " for ", " in ", " endif ", " endfor ",
        " else ", " elif ", " set ", " macro ", " endmacro ", " call ", " endcall ", " x ", " messages ", " loop.index ",
        " ns.a ", " namespace(a=1) ", " range(3) ", "|", "trim", "tojson", "length", "join(',')", "(", ")", "[", "]",
        "{", "}", ",", ":", ".", "=", "==", "+", "-", "*", "//", "%", "**", "~", " and ", " or ", " not ", " is ",
        " defined ", " none ", "'s'", "\"q\\n\"", "1", "2.5", "-3", "\n", " ", "text", "\\", "'", "\"", "0x", "1e",
        " break ", " continue ", " raw ", " endraw ", " with ", " endwith ", " filter ", " upper ", " endfilter ",
    ]

    @Test func randomTemplatesNeverCrash() {
        var rng = Generator(state: 0x5EED)
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
