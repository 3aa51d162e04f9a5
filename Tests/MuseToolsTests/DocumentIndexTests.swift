// The document index on real folders and a real SQLite file: ranked hits with file and line,
// incremental re-indexing, hostile queries, and the files it must refuse to index.
import Foundation
import MuseAgents
import Testing
@testable import MuseTools

/// A temporary folder of documents and an index file beside it, removed when the test ends.
final class DocumentFixture {
    let base: URL
    let folder: URL
    let index: DocumentIndex

    init(pdfToText: URL? = nil) throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("muse-docs-\(UUID().uuidString)")
        folder = base.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        index = try DocumentIndex(path: base.appendingPathComponent("index.sqlite").path, pdfToText: pdfToText)
    }

    deinit { try? FileManager.default.removeItem(at: base) }

    func write(_ relative: String, _ text: String) throws {
        try write(relative, Data(text.utf8))
    }

    func write(_ relative: String, _ data: Data) throws {
        let url = folder.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }
}

@Suite struct DocumentIndexTests {
    static let trip = """
        # Trip notes

        We flew to Porto first.
        Then the train south.
        In Lisbon the trams climb the hills,
        and tram 28 is always full.

        Food: pastéis de nata everywhere.
        """

    @Test func findsRankedHitsWithFileAndLine() throws {
        let docs = try DocumentFixture()
        try docs.write("notes/trip.md", Self.trip)
        try docs.write("notes/packing.txt", "Passport, charger, a guidebook to Lisbon.\n")
        try docs.write("todo.rst", "Call the bank.\nWater the plants.\n")
        let summary = try docs.index.index(folder: docs.folder)
        #expect(summary.indexed == 3)
        #expect(summary.skipped.isEmpty)

        let hits = try docs.index.search("lisbon trams", limit: 5)
        #expect(hits.map(\.path) == ["notes/trip.md", "notes/packing.txt"])
        // The paragraph starts on line 3; the first match is two lines further down.
        #expect(hits[0].line == 5)
        #expect(hits[0].snippet.contains("«Lisbon»"))
        #expect(hits[0].snippet.contains("«trams»"))
        #expect(!hits[0].snippet.contains("\n"))
        #expect(hits[1].line == 1)

        // Porter stemming and folded diacritics: "tram" finds "trams", "pasteis" finds "pastéis".
        #expect(try docs.index.search("tram", limit: 5).first?.line == 5)
        #expect(try docs.index.search("pasteis", limit: 5).first.map { ($0.path, $0.line) } ?? ("", 0) == ("notes/trip.md", 8))
        #expect(try docs.index.search("lisbon", limit: 1).count == 1)
        #expect(try docs.index.search("submarine", limit: 5).isEmpty)
    }

    @Test func reindexingSkipsUnchangedFilesAndFollowsChanges() throws {
        let docs = try DocumentFixture()
        try docs.write("a.md", "Alpha mentions the aardvark.\n")
        try docs.write("b.md", "Beta mentions the badger.\n")
        try docs.write("sub/c.txt", "Gamma mentions the caribou.\n")
        #expect(try docs.index.index(folder: docs.folder).indexed == 3)

        let again = try docs.index.index(folder: docs.folder)
        #expect(again == IndexSummary(indexed: 0, unchanged: 3, removed: 0, chunks: 0, skipped: []))

        try docs.write("a.md", "Alpha now mentions the armadillo instead, at more length.\n")
        try FileManager.default.removeItem(at: docs.folder.appendingPathComponent("sub/c.txt"))
        try docs.write("d.md", "Delta mentions the dingo.\n")
        let changed = try docs.index.index(folder: docs.folder)
        #expect(changed.indexed == 2)
        #expect(changed.unchanged == 1)
        #expect(changed.removed == 1)
        #expect(changed.chunks == 2)

        #expect(try docs.index.search("aardvark", limit: 5).isEmpty)
        #expect(try docs.index.search("armadillo", limit: 5).map(\.path) == ["a.md"])
        #expect(try docs.index.search("caribou", limit: 5).isEmpty)
        #expect(try docs.index.search("dingo", limit: 5).map(\.path) == ["d.md"])
        #expect(try docs.index.search("badger", limit: 5).map(\.path) == ["b.md"])
    }

    @Test(arguments: ["\"", "*", "NEAR(", "a AND", "", "   ", "\"unbalanced", "title: lisbon", "-lisbon", "(", ")",
                      "AND OR NOT", "^lisbon", "lisbon*", "NEAR(lisbon tram, 2)", "'; DROP TABLE file; --", "«»", "\u{0}"])
    func hostileQueriesDoNotThrow(query: String) throws {
        let docs = try DocumentFixture()
        try docs.write("trip.md", Self.trip)
        try docs.index.index(folder: docs.folder)
        let hits = try docs.index.search(query, limit: 5)
        // Operators are only words: a query naming Lisbon still finds it, whatever surrounds it.
        if query.lowercased().contains("lisbon") { #expect(hits.first?.path == "trip.md") }
    }

    @Test func binaryLargeAndUnreadableFilesAreSkipped() throws {
        let docs = try DocumentFixture()
        try docs.write("good.txt", "A readable note about kayaks.\n")
        try docs.write("nul.txt", Data("kayaks\0\0\0binary".utf8))
        try docs.write("latin1.txt", Data([0x6B, 0x61, 0x79, 0x61, 0x6B, 0xE9, 0x0A])) // "kayaké" in Latin-1
        try docs.write("photo.png", Data("kayaks".utf8))
        try docs.write("big.log", Data(repeating: 0x61, count: DocumentIndex.maxFileBytes + 1))
        try docs.write("manual.pdf", Data("%PDF-1.4 kayaks".utf8))
        try docs.write(".hidden/secret.md", "kayaks in a hidden folder\n")
        let summary = try docs.index.index(folder: docs.folder)
        #expect(summary.indexed == 1)
        let reasons = Dictionary(uniqueKeysWithValues: summary.skipped.map { ($0.path, $0.reason) })
        #expect(reasons == [
            "nul.txt": .binary, "latin1.txt": .binary, "photo.png": .binary,
            "big.log": .tooLarge(bytes: Int64(DocumentIndex.maxFileBytes + 1)), "manual.pdf": .pdfToolMissing,
        ])
        #expect(try docs.index.search("kayaks", limit: 10).map(\.path) == ["good.txt"])
    }

    @Test func aFileThatTurnsBinaryLeavesTheIndex() throws {
        let docs = try DocumentFixture()
        try docs.write("note.txt", "Quokkas are small.\n")
        try docs.index.index(folder: docs.folder)
        try docs.write("note.txt", Data("Quokkas\0 are small, and binary now.".utf8))
        let summary = try docs.index.index(folder: docs.folder)
        #expect(summary.skipped.map(\.path) == ["note.txt"])
        #expect(try docs.index.search("quokkas", limit: 5).isEmpty)
    }

    @Test func symbolicLinkLoopsEndAndLinksOutsideAreRefused() throws {
        let docs = try DocumentFixture()
        let manager = FileManager.default
        try docs.write("real/note.md", "Narwhals live in the Arctic.\n")
        try manager.createSymbolicLink(atPath: docs.folder.appendingPathComponent("real/loop").path, withDestinationPath: "..")
        try manager.createSymbolicLink(atPath: docs.folder.appendingPathComponent("alias").path, withDestinationPath: "real")
        try manager.createSymbolicLink(atPath: docs.folder.appendingPathComponent("also.md").path, withDestinationPath: "real/note.md")
        try "Secret narwhal plans.\n".write(to: docs.base.appendingPathComponent("outside.md"), atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(atPath: docs.folder.appendingPathComponent("escape.md").path, withDestinationPath: "../outside.md")

        let summary = try docs.index.index(folder: docs.folder)
        // Each real file once, under its real name; the link out of the folder is reported.
        #expect(summary.indexed == 1)
        #expect(summary.skipped == [SkippedFile(path: "escape.md", reason: .linkOutsideFolder)])
        #expect(try docs.index.search("narwhal", limit: 10).map(\.path) == ["real/note.md"])
    }

    @Test(.enabled(if: DocumentIndex.findExecutable("pdftotext") != nil, "needs pdftotext (poppler-utils)"))
    func pdfsAreReadWithPdftotext() throws {
        let docs = try DocumentFixture(pdfToText: DocumentIndex.findExecutable("pdftotext"))
        try docs.write("manual.pdf", Self.pdf(text: "Feeding the walrus twice a day"))
        try docs.write("broken.pdf", Data("%PDF-1.4 this is not really a PDF".utf8))
        let summary = try docs.index.index(folder: docs.folder)
        #expect(summary.indexed == 1)
        #expect(summary.skipped.map(\.path) == ["broken.pdf"])
        let hit = try #require(try docs.index.search("walrus", limit: 5).first)
        #expect(hit.path == "manual.pdf")
        #expect(hit.snippet.contains("«walrus»"))
    }

    /// A one-page PDF showing `text` in Helvetica, with a correct cross-reference table.
    static func pdf(text: String) -> Data {
        let content = "BT /F1 24 Tf 72 700 Td (\(text)) Tj ET"
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        var pdf = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (number, body) in objects.enumerated() {
            offsets.append(pdf.utf8.count)
            pdf += "\(number + 1) 0 obj\n\(body)\nendobj\n"
        }
        let xref = pdf.utf8.count
        pdf += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { pdf += String(format: "%010d 00000 n \n", offset) }
        pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(pdf.utf8)
    }

    @Test func chunksAreParagraphsCutIntoWindows() {
        let long = (1...45).map { "line \($0)" }.joined(separator: "\n")
        let chunks = DocumentIndex.chunks(of: "first\r\nsecond\r\n\r\n\n  \n" + long + "\n\nlast")
        #expect(chunks.map(\.line) == [1, 6, 26, 46, 52])
        #expect(chunks[0].text == "first\nsecond")
        #expect(chunks[1].text.hasPrefix("line 1\n"))
        #expect(chunks[1].text.split(separator: "\n").count == DocumentIndex.chunkLines)
        #expect(chunks[3].text == "line 41\nline 42\nline 43\nline 44\nline 45")
        #expect(chunks[4] == DocumentIndex.Chunk(line: 52, text: "last"))
        #expect(DocumentIndex.chunks(of: "").isEmpty)
    }

    @Test func freeTextBecomesQuotedTerms() {
        #expect(FTSQuery.anyTerm(#"lisbon "tram" AND"#) == #""lisbon" OR """tram""" OR "AND""#)
        #expect(FTSQuery.anyTerm("NEAR( a*") == #""NEAR(" OR "a*""#)
        #expect(FTSQuery.anyTerm(" * - : \" ( ") == nil)
        #expect(FTSQuery.anyTerm("") == nil)
    }

    @Test func notAFolderIsAnError() throws {
        let docs = try DocumentFixture()
        #expect(throws: DocumentIndexError.self) { try docs.index.index(folder: docs.folder.appendingPathComponent("missing")) }
    }

    // MARK: The tool

    @Test func toolAnswersWithPathLineAndSnippet() async throws {
        let docs = try DocumentFixture()
        try docs.write("notes/trip.md", Self.trip)
        try docs.write("other.txt", "Nothing relevant here.\n")
        try docs.index.index(folder: docs.folder)
        let tool = SearchDocumentsTool(index: docs.index)
        let answer = try await tool.call(arguments: #"{"query": "Lisbon"}"#)
        #expect(answer.hasPrefix("notes/trip.md:5: "))
        #expect(answer.contains("«Lisbon»"))
        #expect(try await tool.call(arguments: #"{"query": "zeppelin"}"#) == "no matches")
        #expect(try await tool.call(arguments: #"{"query": "trip nothing", "limit": 1}"#).split(separator: "\n").count == 1)
        #expect(try await tool.call(arguments: #"{"query": "trip nothing"}"#).split(separator: "\n").count == 2)
        #expect(try await tool.call(arguments: #"{"query": "\"*:- NEAR(", "limit": 50}"#) == "no matches")
    }

    @Test(arguments: [#"{"limit": 3}"#, #"{"query": 7}"#, #"{"query": "lisbon", "limit": 0}"#,
                      #"{"query": "lisbon", "limit": 2.5}"#, #"{"query": "lisbon", "limit": "3"}"#, #"{"query": "*"}"#, "[]"])
    func toolRejectsBadArguments(arguments: String) async throws {
        let docs = try DocumentFixture()
        let tool = SearchDocumentsTool(index: docs.index)
        await #expect(throws: ToolError.self) { try await tool.call(arguments: arguments) }
    }
}
