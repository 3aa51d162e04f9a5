// Pre-tokenizer splits per `tokenizer.ggml.pre` kind on tricky strings (digits, contractions, spacing,
// line breaks, combining marks, emoji, CJK, non-ASCII digits and spaces).
// Expectations were produced with Python's `regex` module running the original Hugging Face
// patterns (which llama.cpp's scanners reproduce) and reviewed by hand.
import Testing
@testable import MuseEngine

struct PreTokenizerTests {
    typealias Case = (text: String, words: [String])

    /// Compares code point by code point: Swift's `==` on strings would equate "e\u{301}" and "é".
    private func check(_ pre: String, _ cases: [Case]) throws {
        let preTokenizer = try PreTokenizer(pre: pre)
        for (text, words) in cases {
            let split = preTokenizer.split(text)
            #expect(split.map { Array($0.unicodeScalars) } == words.map { Array($0.unicodeScalars) },
                    "\(pre): \(text.debugDescription) -> \(split)")
        }
    }

    @Test func gpt2() throws {
        try check("gpt-2", [
            ("Hello world", ["Hello", " world"]),
            ("I'm can't we'LL they'RE", ["I", "'m", " can", "'t", " we", "'", "LL", " they", "'", "RE"]),
            ("price 1234567 and 12", ["price", " 1234567", " and", " 12"]),
            ("   multiple   spaces   ", ["  ", " multiple", "  ", " spaces", "   "]),
            ("tab\there\n\nnew\r\nline ", ["tab", "\t", "here", "\n", "\n", "new", "\r", "\n", "line", " "]),
            ("Ça va? naïve façade", ["Ça", " va", "?", " naïve", " façade"]),
            ("e\u{301}té", ["e", "\u{301}", "té"]),
            ("🙂 smile 👍🏽!", ["🙂", " smile", " 👍🏽!"]),
            ("日本語のテキスト", ["日本語のテキスト"]),
            ("中文 ,测试", ["中文", " ,", "测试"]),
            ("x = [i*i for i in range(10)]", ["x", " =", " [", "i", "*", "i", " for", " i", " in", " range", "(", "10", ")]"]),
            ("a  \tb", ["a", "  ", "\t", "b"]),
            ("\u{A0}nbsp\u{3000}ideographic", ["\u{A0}", "nbsp", "\u{3000}", "ideographic"]),
            ("١٢٣ ٤", ["١٢٣", " ٤"]),
            ("...!!! ?", ["...!!!", " ?"]),
            ("end   ", ["end", "   "]),
        ])
    }

    @Test func smolLM() throws {
        try check("smollm", [
            ("Hello world", ["Hello", " world"]),
            ("I'm can't we'LL they'RE", ["I", "'m", " can", "'t", " we", "'", "LL", " they", "'", "RE"]),
            ("price 1234567 and 12", ["price", " ", "1", "2", "3", "4", "5", "6", "7", " and", " ", "1", "2"]),
            ("   multiple   spaces   ", ["  ", " multiple", "  ", " spaces", "   "]),
            ("tab\there\n\nnew\r\nline ", ["tab", "\t", "here", "\n", "\n", "new", "\r", "\n", "line", " "]),
            ("Ça va? naïve façade", ["Ça", " va", "?", " naïve", " façade"]),
            ("e\u{301}té", ["e", "\u{301}", "té"]),
            ("🙂 smile 👍🏽!", ["🙂", " smile", " 👍🏽!"]),
            ("日本語のテキスト", ["日本語のテキスト"]),
            ("中文 ,测试", ["中文", " ,", "测试"]),
            ("x = [i*i for i in range(10)]", ["x", " =", " [", "i", "*", "i", " for", " i", " in", " range", "(", "1", "0", ")]"]),
            ("a  \tb", ["a", "  ", "\t", "b"]),
            ("\u{A0}nbsp\u{3000}ideographic", ["\u{A0}", "nbsp", "\u{3000}", "ideographic"]),
            ("١٢٣ ٤", ["١", "٢", "٣", " ", "٤"]),
            ("...!!! ?", ["...!!!", " ?"]),
            ("end   ", ["end", "   "]),
        ])
    }

    @Test func llama3() throws {
        try check("llama-bpe", [
            ("Hello world", ["Hello", " world"]),
            ("I'm can't we'LL they'RE", ["I", "'m", " can", "'t", " we", "'LL", " they", "'RE"]),
            ("price 1234567 and 12", ["price", " ", "123", "456", "7", " and", " ", "12"]),
            ("   multiple   spaces   ", ["  ", " multiple", "  ", " spaces", "   "]),
            ("tab\there\n\nnew\r\nline ", ["tab", "\there", "\n\n", "new", "\r\n", "line", " "]),
            ("Ça va? naïve façade", ["Ça", " va", "?", " naïve", " façade"]),
            ("e\u{301}té", ["e", "\u{301}té"]),
            ("🙂 smile 👍🏽!", ["🙂", " smile", " 👍🏽!"]),
            ("日本語のテキスト", ["日本語のテキスト"]),
            ("中文 ,测试", ["中文", " ,", "测试"]),
            ("x = [i*i for i in range(10)]", ["x", " =", " [", "i", "*i", " for", " i", " in", " range", "(", "10", ")]"]),
            ("a  \tb", ["a", "  ", "\tb"]),
            ("\u{A0}nbsp\u{3000}ideographic", ["\u{A0}nbsp", "\u{3000}ideographic"]),
            ("١٢٣ ٤", ["١٢٣", " ", "٤"]),
            ("...!!! ?", ["...!!!", " ?"]),
            ("end   ", ["end", "   "]),
        ])
    }

    @Test func qwen2() throws {
        try check("qwen2", [
            ("Hello world", ["Hello", " world"]),
            ("I'm can't we'LL they'RE", ["I", "'m", " can", "'t", " we", "'LL", " they", "'RE"]),
            ("price 1234567 and 12", ["price", " ", "1", "2", "3", "4", "5", "6", "7", " and", " ", "1", "2"]),
            ("   multiple   spaces   ", ["  ", " multiple", "  ", " spaces", "   "]),
            ("tab\there\n\nnew\r\nline ", ["tab", "\there", "\n\n", "new", "\r\n", "line", " "]),
            ("Ça va? naïve façade", ["Ça", " va", "?", " naïve", " façade"]),
            ("e\u{301}té", ["e", "\u{301}té"]),
            ("🙂 smile 👍🏽!", ["🙂", " smile", " 👍🏽!"]),
            ("日本語のテキスト", ["日本語のテキスト"]),
            ("中文 ,测试", ["中文", " ,", "测试"]),
            ("x = [i*i for i in range(10)]", ["x", " =", " [", "i", "*i", " for", " i", " in", " range", "(", "1", "0", ")]"]),
            ("a  \tb", ["a", "  ", "\tb"]),
            ("\u{A0}nbsp\u{3000}ideographic", ["\u{A0}nbsp", "\u{3000}ideographic"]),
            ("١٢٣ ٤", ["١", "٢", "٣", " ", "٤"]),
            ("...!!! ?", ["...!!!", " ?"]),
            ("end   ", ["end", "   "]),
        ])
    }

    @Test func defaultChain() throws {
        try check("default", [
            ("Hello world", ["Hello", " world"]),
            ("I'm can't we'LL they'RE", ["I", "'", "m", " can", "'", "t", " we", "'", "LL", " they", "'", "RE"]),
            ("price 1234567 and 12", ["price", " ", "123", "456", "7", " and", " ", "12"]),
            ("   multiple   spaces   ", ["  ", " multiple", "  ", " spaces", "   "]),
            ("tab\there\n\nnew\r\nline ", ["tab", "\t", "here", "\n", "\n", "new", "\r", "\n", "line", " "]),
            ("Ça va? naïve façade", ["Ça", " va", "?", " naïve", " façade"]),
            ("e\u{301}té", ["e", "\u{301}", "té"]),
            ("🙂 smile 👍🏽!", ["🙂", " smile", " 👍🏽", "!"]),
            ("日本語のテキスト", ["日本語のテキスト"]),
            ("中文 ,测试", ["中文", " ", ",", "测试"]),
            ("x = [i*i for i in range(10)]", ["x", " ", "=", " ", "[", "i", "*", "i", " for", " i", " in", " range", "(", "10", ")]"]),
            ("a  \tb", ["a", "  ", "\t", "b"]),
            ("\u{A0}nbsp\u{3000}ideographic", ["\u{A0}", "nbsp", "\u{3000}", "ideographic"]),
            ("١٢٣ ٤", ["١٢٣", " ", "٤"]),
            ("...!!! ?", ["...!!!", " ", "?"]),
            ("end   ", ["end", "   "]),
        ])
    }

    @Test func piecesCoverTheText() throws {
        let text = "Mixed 123 text — with\ttabs,  spaces\r\n\n and 🙂 emoji's 4567!"
        for pre in ["gpt-2", "smollm", "llama-bpe", "qwen2", "default"] {
            let words = try PreTokenizer(pre: pre).split(text)
            #expect(words.joined().unicodeScalars.elementsEqual(text.unicodeScalars))
            #expect(!words.contains(""))
        }
        #expect(try PreTokenizer(pre: "smollm").split("").isEmpty)
    }

    @Test func aliasesAndUnknownNames() throws {
        #expect(try PreTokenizer(pre: "starcoder").stages == PreTokenizer(pre: "smollm").stages)
        #expect(try PreTokenizer(pre: "deepseek-r1-qwen").stages == PreTokenizer(pre: "qwen2").stages)
        #expect(try PreTokenizer(pre: "llama3").ignoreMerges)
        #expect(try !PreTokenizer(pre: "dbrx").ignoreMerges)
        #expect(throws: TokenizerError.unsupportedPreTokenizer("no-such-pre")) {
            try PreTokenizer(pre: "no-such-pre")
        }
    }
}
