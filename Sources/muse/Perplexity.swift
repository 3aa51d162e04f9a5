// `muse perplexity`: how well the model predicts a text, and how far its predictions are from a
// reference's (KL divergence), in llama-perplexity's manner and with its base files.
import ArgumentParser
import Foundation
import MuseEngine

struct Perplexity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a text file, and KL divergence from a llama.cpp --kl-divergence-base file.",
        discussion: """
            Without --kl-divergence: the perplexity of FILE; with --kl-divergence-base BASE the logits are \
            also saved there. With --kl-divergence --kl-divergence-base BASE: the KL divergence of this \
            model's predictions from the base's, on the base's own tokens (FILE is then not needed).
            """)

    @Argument(help: "A text file (UTF-8).")
    var file: String?

    @Option(name: .customLong("kl-divergence-base"), help: "A llama.cpp logits base file to write, or to compare with.")
    var base: String?

    @Flag(name: .customLong("kl-divergence"), help: "Compare with the base instead of writing it.")
    var klDivergence = false

    @Option(name: .customLong("chunk-size"), help: "Tokens per chunk (llama-perplexity's -c); each is scored on its second half.")
    var chunkSize = 512

    @Option(help: "Score at most this many chunks.")
    var chunks: Int?

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        if klDivergence, base == nil { throw ValidationError("--kl-divergence needs --kl-divergence-base BASE") }
        if !klDivergence, file == nil { throw ValidationError("give a text FILE (or --kl-divergence with a base)") }
        guard (8...65536).contains(chunkSize) else { throw ValidationError("--chunk-size must be between 8 and 65536") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be at least 1") }
    }

    func run() async throws {
        let model = try modelOptions.load()
        var tokens: [Int32] = []
        var reference: LogitsBase?
        if klDivergence, let base {
            reference = try LogitsBase(contentsOf: URL(fileURLWithPath: base))
        } else if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read \(file) as UTF-8 text")
            }
            tokens = model.perplexityTokens(text)
        }
        let recordTo = klDivergence ? nil : base
        let report = try model.perplexity(tokens: tokens, chunkSize: chunkSize, maxChunks: chunks, base: reference,
                                          recordTo: recordTo) { done, total in
            if !json { Terminal.status("chunk \(done)/\(total)") }
        }
        if json { return try Terminal.json(report) }
        var lines = [
            "chunks: \(report.chunks) of \(report.chunkSize) tokens, \(report.tokensScored) scored, \(String(format: "%.1f", report.seconds)) s",
            String(format: "perplexity: %.4f ± %.4f", report.perplexity, report.perplexityError),
        ]
        if let kl = report.kl {
            lines += [
                String(format: "base perplexity: %.4f", kl.basePerplexity),
                String(format: "mean KL divergence: %.6f ± %.6f", kl.mean, kl.meanError),
                String(format: "median KL divergence: %.6f", kl.median),
                String(format: "99th percentile KL divergence: %.6f", kl.percentile99),
                String(format: "largest KL divergence: %.6f", kl.maximum),
                String(format: "same top token: %.3f ± %.3f %%", kl.sameTopRate * 100, kl.sameTopError * 100),
            ]
        }
        if let recordTo { lines.append("logits saved to \(recordTo)") }
        Terminal.write(lines.joined(separator: "\n") + "\n")
    }
}
