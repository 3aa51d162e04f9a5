// A full-text index of the user's own documents, kept in a SQLite file (FTS5, ranked by BM25), that
// the search_documents tool queries. Re-indexing a folder only reads files that changed.
import Foundation
import GRDB
import MuseAgents
import MuseCore

/// Folders of text files split into chunks and indexed for ranked full-text search.
///
/// One index file can hold several folders; each file is stored under the folder it was indexed
/// from, and hits name it relative to that folder.
public final class DocumentIndex: Sendable {
    /// Files larger than this are skipped: a log or a data dump would drown the index.
    public static let maxFileBytes = 5 * 1_024 * 1_024
    /// A chunk ends at a blank line, or after this many lines or bytes, whichever comes first.
    static let chunkLines = 20
    static let chunkBytes = 4_000
    /// Files written to the database in one transaction: few commits, but no single huge one.
    static let batchFiles = 100

    let database: DatabaseQueue
    /// `pdftotext` (poppler), or nil when PDFs are to be skipped.
    let pdfToText: URL?

    /// Opens (or creates) the index at `path`. PDFs are read with `pdftotext` when it is found on
    /// the PATH, unless another executable, or none, is given.
    public init(path: String, pdfToText: URL? = DocumentIndex.findExecutable("pdftotext")) throws {
        database = try SQLiteFile.open(path, migrator: Self.migrator)
        self.pdfToText = pdfToText
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("documents-v1") { db in
            try db.execute(sql: """
                CREATE TABLE file (
                    id INTEGER PRIMARY KEY,
                    root TEXT NOT NULL,
                    path TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    modified REAL NOT NULL,
                    UNIQUE (root, path));
                CREATE TABLE chunk (
                    id INTEGER PRIMARY KEY,
                    file_id INTEGER NOT NULL REFERENCES file(id),
                    line INTEGER NOT NULL,
                    content TEXT NOT NULL);
                CREATE INDEX chunk_file ON chunk(file_id);
                -- External-content FTS: the text is stored once, in chunk; the triggers keep the
                -- full-text index in step with it (the pattern of the SQLite FTS5 documentation).
                CREATE VIRTUAL TABLE chunk_fts USING fts5(
                    content, content = 'chunk', content_rowid = 'id',
                    tokenize = 'porter unicode61 remove_diacritics 2');
                CREATE TRIGGER chunk_inserted AFTER INSERT ON chunk BEGIN
                    INSERT INTO chunk_fts(rowid, content) VALUES (new.id, new.content);
                END;
                CREATE TRIGGER chunk_deleted AFTER DELETE ON chunk BEGIN
                    INSERT INTO chunk_fts(chunk_fts, rowid, content) VALUES ('delete', old.id, old.content);
                END;
                """)
        }
        return migrator
    }

    // MARK: Indexing

    /// Brings the index of `folder` up to date: new and changed files (by size and modification
    /// date) are read and stored, unchanged ones are left alone, and deleted ones are removed.
    /// Hidden files and folders are not indexed; symbolic links are followed only inside `folder`.
    @discardableResult
    public func index(folder: URL) throws -> IndexSummary {
        guard let root = Self.realPath(folder.path), Self.isDirectory(root) else {
            throw DocumentIndexError.notAFolder(folder.path)
        }
        var summary = IndexSummary()
        let walk = FolderWalk(root: root)
        summary.skipped = walk.skipped
        let known = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, path, size, modified FROM file WHERE root = ?", arguments: [root])
                .reduce(into: [String: StoredFile]()) { known, row in
                    known[row["path"]] = StoredFile(id: row["id"], size: row["size"], modified: row["modified"])
                }
        }
        var pending: [FileUpdate] = []
        func flush() throws {
            let updates = pending
            pending = []
            guard !updates.isEmpty else { return }
            try database.write { db in
                for update in updates { try Self.store(update, root: root, in: db) }
            }
        }
        for file in walk.files {
            let stored = known[file.path]
            if let stored, stored.size == file.size, stored.modified == file.modified {
                summary.unchanged += 1
                continue
            }
            switch extractText(file) {
            case .success(let text):
                let chunks = Self.chunks(of: text)
                pending.append(FileUpdate(file: file, replacing: stored?.id, chunks: chunks))
                summary.indexed += 1
                summary.chunks += chunks.count
            case .failure(let reason):
                // A file that became unreadable loses its old entry rather than serving stale text.
                if let stored { pending.append(FileUpdate(file: file, replacing: stored.id, chunks: nil)) }
                summary.skipped.append(SkippedFile(path: file.path, reason: reason))
            }
            if pending.count >= Self.batchFiles { try flush() }
        }
        try flush()
        let present = Set(walk.files.map(\.path))
        let gone = known.filter { !present.contains($0.key) }.map(\.value.id)
        try database.write { db in
            for id in gone { try Self.delete(fileID: id, in: db) }
        }
        summary.removed = gone.count
        return summary
    }

    private struct StoredFile {
        let id: Int64
        let size: Int64
        let modified: Double
    }

    private struct FileUpdate {
        let file: FolderWalk.File
        let replacing: Int64?
        /// The new chunks, or nil to drop the file from the index.
        let chunks: [Chunk]?
    }

    private static func store(_ update: FileUpdate, root: String, in db: Database) throws {
        if let old = update.replacing { try delete(fileID: old, in: db) }
        guard let chunks = update.chunks else { return }
        try db.execute(sql: "INSERT INTO file (root, path, size, modified) VALUES (?, ?, ?, ?)",
                       arguments: [root, update.file.path, update.file.size, update.file.modified])
        let fileID = db.lastInsertedRowID
        for chunk in chunks {
            try db.execute(sql: "INSERT INTO chunk (file_id, line, content) VALUES (?, ?, ?)",
                           arguments: [fileID, chunk.line, chunk.text])
        }
    }

    private static func delete(fileID: Int64, in db: Database) throws {
        try db.execute(sql: "DELETE FROM chunk WHERE file_id = ?", arguments: [fileID])
        try db.execute(sql: "DELETE FROM file WHERE id = ?", arguments: [fileID])
    }

    // MARK: Reading files

    /// Extensions that are never text, skipped without reading them.
    static let binaryExtensions: Set<String> = [
        "png", "jpg", "jpeg", "gif", "webp", "bmp", "ico", "tif", "tiff", "heic", "psd",
        "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "jar", "dmg", "iso",
        "exe", "dll", "so", "dylib", "o", "a", "class", "pyc", "wasm", "bin", "dat",
        "db", "sqlite", "sqlite3", "mp3", "mp4", "m4a", "wav", "flac", "ogg", "mov", "avi", "mkv", "webm",
        "woff", "woff2", "ttf", "otf", "eot", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "epub",
        "gguf", "safetensors", "pt", "onnx", "npy", "npz",
    ]

    /// The text of a file; any extension is tried, and a NUL byte or invalid UTF-8 marks it binary.
    func extractText(_ file: FolderWalk.File) -> Result<String, SkippedFile.Reason> {
        guard file.size <= Int64(Self.maxFileBytes) else { return .failure(.tooLarge(bytes: file.size)) }
        let ext = file.url.pathExtension.lowercased()
        if ext == "pdf" {
            guard let pdfToText else { return .failure(.pdfToolMissing) }
            return PDFText.extract(file.url, tool: pdfToText)
        }
        guard !Self.binaryExtensions.contains(ext) else { return .failure(.binary) }
        let data: Data
        do { data = try Data(contentsOf: file.url) } catch { return .failure(.unreadable("\(error.localizedDescription)")) }
        guard let text = Self.decodeText(data) else { return .failure(.binary) }
        return .success(text)
    }

    /// UTF-8 text without NUL bytes, less a byte-order mark; nil for anything else.
    static func decodeText(_ data: Data) -> String? {
        guard !data.contains(0) else { return nil }
        let bytes = data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...]
        return String(validating: bytes, as: UTF8.self)
    }

    // MARK: Chunking

    /// A run of lines of one file, with the 1-based number of its first line.
    struct Chunk: Equatable {
        let line: Int
        let text: String
    }

    /// Paragraphs (runs of non-blank lines), each cut into windows of at most `chunkLines` lines
    /// and about `chunkBytes` bytes. Lines are counted at "\n" only, as editors number them.
    static func chunks(of text: String) -> [Chunk] {
        var chunks: [Chunk] = []
        var lines: [String] = []
        var start = 0
        var bytes = 0
        func close() {
            if !lines.isEmpty { chunks.append(Chunk(line: start, text: lines.joined(separator: "\n"))) }
            lines = []
            bytes = 0
        }
        for (offset, scalars) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(scalars)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.allSatisfy(\.isWhitespace) { close(); continue }
            if lines.isEmpty { start = offset + 1 }
            lines.append(line)
            bytes += line.utf8.count + 1
            if lines.count >= chunkLines || bytes >= chunkBytes { close() }
        }
        close()
        return chunks
    }

    // MARK: Searching

    /// The chunks that best match `query` (free text: every word is searched for, the best BM25
    /// scores first), with the match marked «like this» in a short snippet.
    public func search(_ query: String, limit: Int = 5) throws -> [SearchHit] {
        guard let match = FTSQuery.anyTerm(query), limit > 0 else { return [] }
        return try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT file.root, file.path, chunk.line,
                       snippet(chunk_fts, 0, '«', '»', '…', 16) AS snippet,
                       highlight(chunk_fts, 0, char(1), char(2)) AS marked
                FROM chunk_fts
                JOIN chunk ON chunk.id = chunk_fts.rowid
                JOIN file ON file.id = chunk.file_id
                WHERE chunk_fts MATCH ?
                ORDER BY bm25(chunk_fts)
                LIMIT ?
                """, arguments: [match, limit]).map { row in
                // The hit's line is the chunk's first line plus the newlines before the first match.
                let marked: String = row["marked"]
                let beforeMatch = marked.unicodeScalars.prefix { $0 != "\u{1}" }
                let line: Int = row["line"]
                return SearchHit(folder: row["root"], path: row["path"],
                                 line: line + beforeMatch.count { $0 == "\n" },
                                 snippet: FTSQuery.oneLine(row["snippet"]))
            }
        }
    }

    // MARK: File-system helpers

    /// The canonical path, symbolic links resolved; nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The first executable called `name` on the PATH.
    public static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").lazy
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}

public enum DocumentIndexError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAFolder(String)

    public var description: String {
        switch self {
        case .notAFolder(let path): "\(path) is not a folder"
        }
    }
}

/// One ranked match: the file relative to the folder it was indexed from, the line of the first
/// matching word, and a one-line snippet with the matches between « and ».
public struct SearchHit: Sendable, Equatable {
    public let folder: String
    public let path: String
    public let line: Int
    public let snippet: String
}

/// What one `index(folder:)` run did.
public struct IndexSummary: Sendable, Equatable, CustomStringConvertible {
    /// Files read and stored, new or changed since the last run.
    public var indexed = 0
    /// Files left alone: the same size and modification date as when last indexed.
    public var unchanged = 0
    /// Files in the index that are no longer in the folder.
    public var removed = 0
    /// Chunks written by this run.
    public var chunks = 0
    /// Files not indexed, and why.
    public var skipped: [SkippedFile] = []

    public var description: String {
        "indexed \(indexed) file\(indexed == 1 ? "" : "s") (\(chunks) chunks), \(unchanged) unchanged, "
            + "\(removed) removed, \(skipped.count) skipped"
    }
}

public struct SkippedFile: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable {
        case tooLarge(bytes: Int64)
        case binary
        case pdfToolMissing
        case linkOutsideFolder
        case unreadable(String)
    }

    public let path: String
    public let reason: Reason

    public var description: String {
        switch reason {
        case .tooLarge(let bytes): "\(path): \(bytes) bytes, over the \(DocumentIndex.maxFileBytes)-byte limit"
        case .binary: "\(path): not a text file"
        case .pdfToolMissing: "\(path): a PDF, and pdftotext (poppler-utils) is not installed"
        case .linkOutsideFolder: "\(path): a link to outside the folder"
        case .unreadable(let why): "\(path): unreadable (\(why))"
        }
    }
}

/// Free text made into FTS5 query syntax that cannot fail to parse.
enum FTSQuery {
    static let maxTerms = 32

    /// Each whitespace-separated word as a quoted FTS5 string (quotes doubled), joined with OR so
    /// that BM25 ranks the chunks with the most and rarest words first. Operators, `*`, `:`, `-`
    /// and parentheses in the input are only text. Nil when no word has a letter or digit.
    static func anyTerm(_ text: String) -> String? {
        let terms = text.split(whereSeparator: \.isWhitespace)
            .filter { $0.contains { $0.isLetter || $0.isNumber } }
            .prefix(maxTerms)
            .map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        return terms.isEmpty ? nil : terms.joined(separator: " OR ")
    }

    /// Whitespace runs, newlines included, as single spaces.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
