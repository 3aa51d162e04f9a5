// The fetch_url tool: reads a web page for the model, but only from sites the operator allowed,
// within a byte cap and a deadline, and as plain text (HTML tags, scripts and styles removed).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MuseAgents
import MuseCore

public struct FetchURLTool: Tool {
    public let name = "fetch_url"
    /// Names the allowed sites, so that the model does not try others.
    public let description: String
    public let parametersSchema = """
        {"type": "object", "properties": {"url": {"type": "string", "description": "The http or https URL to fetch"}}, "required": ["url"]}
        """

    /// Host patterns: an exact host ("docs.swift.org") or every subdomain of one ("*.swift.org",
    /// which does not match "swift.org" itself). Ports are not part of a pattern.
    public let allowedHosts: [String]
    /// Bytes of the response body read at most; the rest is not downloaded.
    public let maxBytes: Int
    /// Seconds for the whole fetch, connection and redirects included.
    public let timeout: TimeInterval

    static let maxRedirects = 5

    public init(allowedHosts: [String], maxBytes: Int = 1_048_576, timeout: TimeInterval = 10) {
        self.allowedHosts = allowedHosts.map(Self.normalizedHost)
        let sites = self.allowedHosts.isEmpty ? "none" : self.allowedHosts.joined(separator: ", ")
        description = "Fetch a web page or text file over http(s) and return its readable text. Allowed sites: \(sites)."
        self.maxBytes = max(1, maxBytes)
        self.timeout = timeout
    }

    public func call(arguments: String) async throws -> String {
        let url = try checkedURL(try stringArgument("url", in: arguments))
        let page = try await Download.fetch(url, maxBytes: maxBytes, timeout: timeout,
                                            maxRedirects: Self.maxRedirects) { [self] in isAllowed($0) }
        return try render(page, from: url)
    }

    // MARK: Allowlist

    /// The URL when it is http(s) to an allowed host; otherwise the reason it is refused.
    func checkedURL(_ text: String) throws(ToolError) -> URL {
        guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)), let scheme = url.scheme?.lowercased() else {
            throw .badArguments("\"\(text)\" is not a URL; write it like https://example.com/page")
        }
        guard scheme == "http" || scheme == "https" else {
            throw .badArguments("only http and https URLs can be fetched, not \(scheme):")
        }
        guard let host = url.host, !host.isEmpty else { throw .badArguments("\"\(text)\" has no host name") }
        guard isAllowed(url) else { throw notAllowed(host) }
        return url
    }

    func isAllowed(_ url: URL) -> Bool {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host else { return false }
        let name = Self.normalizedHost(host)
        return allowedHosts.contains { Self.host(name, matches: $0) }
    }

    static func host(_ host: String, matches pattern: String) -> Bool {
        guard pattern.hasPrefix("*.") else { return host == pattern }
        let suffix = pattern.dropFirst()   // ".example.com"
        return host.count > suffix.count && host.hasSuffix(suffix)
    }

    /// Lower case, without the trailing dot of a fully qualified name or IPv6 brackets.
    static func normalizedHost(_ host: String) -> String {
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        return name
    }

    func notAllowed(_ host: String) -> ToolError {
        let list = allowedHosts.isEmpty ? "none are allowed" : "allowed: " + allowedHosts.joined(separator: ", ")
        return .failed("\(host) is not on the list of sites this assistant may fetch (\(list))")
    }

    // MARK: Response to text

    func render(_ page: Download.Page, from url: URL) throws(ToolError) -> String {
        let status = page.response.statusCode
        guard (200..<300).contains(status) else {
            throw .failed("\(url.absoluteString) answered HTTP \(status) \(HTTPURLResponse.localizedString(forStatusCode: status))")
        }
        var text: String
        switch ContentKind(mimeType: page.response.mimeType, body: page.body) {
        case .html: text = HTMLText.text(fromHTML: Self.decode(page.body, charset: page.response.textEncodingName))
        case .text: text = Self.decode(page.body, charset: page.response.textEncodingName)
        case .binary(let type): throw .failed("\(url.absoluteString) is \(type), not text; only web pages and text can be read")
        }
        if text.isEmpty { text = "(the page has no text)" }
        if page.truncated { text += "\n\n[cut: only the first \(maxBytes) bytes of the response were read]" }
        return text
    }

    /// The body as text in its declared charset; UTF-8 (invalid bytes replaced) when none is given
    /// or it is one Foundation does not know. A sequence cut by the byte cap is dropped, not garbled.
    static func decode(_ body: Data, charset: String?) -> String {
        switch charset?.lowercased() {
        case "iso-8859-1", "latin1", "us-ascii", "ascii":
            if let text = String(data: body, encoding: .isoLatin1) { return text }
        case "windows-1252", "cp1252":
            if let text = String(data: body, encoding: .windowsCP1252) { return text }
        default: break
        }
        var bytes = body[...]
        // Drop an incomplete UTF-8 sequence at the end: up to 3 continuation bytes after a lead byte.
        if let lead = bytes.suffix(4).lastIndex(where: { $0 & 0xC0 != 0x80 }), bytes[lead] >= 0xC0 {
            let needed = bytes[lead] >= 0xF0 ? 4 : bytes[lead] >= 0xE0 ? 3 : 2
            if bytes.endIndex - lead < needed { bytes = bytes[..<lead] }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// How a response body is read, from its media type or, when it has none, from its bytes.
enum ContentKind: Equatable {
    case html, text
    case binary(String)

    static let textTypes: Set<String> = [
        "application/json", "application/xml", "application/javascript", "application/x-javascript",
        "application/ecmascript", "application/yaml", "application/x-yaml", "application/toml",
        "application/x-sh", "application/sql", "application/csv", "application/x-ndjson", "application/graphql",
    ]

    init(mimeType: String?, body: Data) {
        let type = mimeType?.lowercased().trimmingCharacters(in: .whitespaces) ?? ""
        switch type {
        case "text/html", "application/xhtml+xml": self = .html
        case _ where type.hasPrefix("text/") || Self.textTypes.contains(type) || type.hasSuffix("+json") || type.hasSuffix("+xml"):
            self = .text
        // Servers send octet-stream for anything they cannot name, text included: look at the bytes.
        case "", "application/octet-stream", "binary/octet-stream":
            if body.prefix(8_192).contains(0) { self = .binary(type.isEmpty ? "binary data" : type) }
            else { self = String(decoding: body.prefix(512), as: UTF8.self).lowercased().contains("<html") ? .html : .text }
        default: self = .binary(type)
        }
    }

    /// Whether the type alone says binary, so the download can stop before the body arrives.
    static func isBinary(mimeType: String?) -> Bool {
        if case .binary = ContentKind(mimeType: mimeType, body: Data([0x20])) { return true }
        return false
    }
}

// MARK: - Download

/// One GET through URLSession's delegate API, so that the body can be cut at the cap and a
/// redirect to a host off the allowlist refused before it is followed.
final class Download: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Page {
        let response: HTTPURLResponse
        let body: Data
        let truncated: Bool
    }

    let maxBytes: Int
    let maxRedirects: Int
    let isAllowed: @Sendable (URL) -> Bool
    /// The error for a fetch past its deadline, whichever of URLSession and our timer notices first.
    let timedOut: ToolError

    // Guarded by `lock`: the delegate callbacks, the deadline and cancellation race to finish.
    private let lock = NSLock()
    private var body = Data()
    private var redirects = 0
    private var refusal: ToolError?
    private var continuation: CheckedContinuation<Page, any Error>?

    private init(maxBytes: Int, maxRedirects: Int, timedOut: ToolError, isAllowed: @escaping @Sendable (URL) -> Bool) {
        self.maxBytes = maxBytes
        self.maxRedirects = maxRedirects
        self.timedOut = timedOut
        self.isAllowed = isAllowed
    }

    static func fetch(_ url: URL, maxBytes: Int, timeout: TimeInterval, maxRedirects: Int,
                      isAllowed: @escaping @Sendable (URL) -> Bool) async throws -> Page {
        let timedOut = ToolError.failed("no answer from \(url.host ?? url.absoluteString) within \(String(format: "%g", timeout)) s")
        let download = Download(maxBytes: maxBytes, maxRedirects: maxRedirects, timedOut: timedOut, isAllowed: isAllowed)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let session = URLSession(configuration: configuration, delegate: download, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.setValue("Muse fetch_url", forHTTPHeaderField: "User-Agent")
        request.setValue("text/html, text/*;q=0.9, application/json;q=0.9, */*;q=0.1", forHTTPHeaderField: "Accept")
        let task = session.dataTask(with: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                download.lock.withLock { download.continuation = continuation }
                if Task.isCancelled { download.finish(.failure(CancellationError())) }
                task.resume()
                // URLSession's own timeouts are per packet on some platforms; this one is for the
                // whole fetch, so a server that accepts and then says nothing cannot stall a turn.
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                    download.finish(.failure(timedOut))
                    task.cancel()
                }
            }
        } onCancel: {
            download.finish(.failure(CancellationError()))
            task.cancel()
        }
    }

    /// Resumes the caller once; later outcomes (a cancelled task's completion) are ignored.
    private func finish(_ result: Result<Page, any Error>) {
        let continuation = lock.withLock {
            defer { self.continuation = nil }
            return self.continuation
        }
        continuation?.resume(with: result)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        if ContentKind.isBinary(mimeType: response.mimeType) {
            let type = response.mimeType ?? "binary data"
            lock.withLock { refusal = .failed("\(response.url?.absoluteString ?? "the URL") is \(type), not text; only web pages and text can be read") }
            completionHandler(.cancel)
            dataTask.cancel()
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let full = lock.withLock {
            body.append(data.prefix(maxBytes - body.count))
            return body.count >= maxBytes
        }
        guard full, let response = dataTask.response as? HTTPURLResponse else { return }
        finish(.success(Page(response: response, body: lock.withLock { body }, truncated: true)))
        dataTask.cancel()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        let refusal: ToolError? = lock.withLock {
            redirects += 1
            guard let target = request.url else { self.refusal = .failed("a redirect without a target"); return self.refusal }
            if redirects > maxRedirects { self.refusal = .failed("more than \(maxRedirects) redirects") }
            else if !isAllowed(target) {
                self.refusal = .failed("the page redirects to \(target.absoluteString), which is not on the list of sites this assistant may fetch")
            }
            return self.refusal
        }
        completionHandler(refusal == nil ? request : nil)
        if refusal != nil { task.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (refusal, body) = lock.withLock { (self.refusal, self.body) }
        if let refusal { return finish(.failure(refusal)) }
        if let error = error as? URLError, error.code == .timedOut { return finish(.failure(timedOut)) }
        if let error { return finish(.failure(ToolError.failed("the fetch failed: \(error.localizedDescription)"))) }
        guard let response = task.response as? HTTPURLResponse else { return finish(.failure(ToolError.failed("the answer was not HTTP"))) }
        finish(.success(Page(response: response, body: body, truncated: false)))
    }
}

// MARK: - HTML to text

/// Readable text from HTML: scripts, styles and comments dropped, block elements on their own
/// lines, list items as "- ", entities decoded, whitespace collapsed. A byte scanner, not a
/// parser: it never fails, and unclosed or odd markup costs only some stray text.
enum HTMLText {
    /// Elements whose content is not text for a reader.
    static let dropped: Set<String> = ["script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas", "select"]
    static let blocks: Set<String> = [
        "address", "article", "aside", "blockquote", "br", "details", "div", "dl", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav",
        "ol", "p", "pre", "section", "summary", "table", "title", "ul",
    ]
    /// Elements that start a line but whose end adds none, so rows and items are not double-spaced.
    static let lineStarts: Set<String> = ["dd", "dt", "option", "tr"]
    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "ensp": " ", "emsp": " ",
        "thinsp": " ", "ndash": "–", "mdash": "—", "hellip": "…", "lsquo": "‘", "rsquo": "’", "ldquo": "“",
        "rdquo": "”", "laquo": "«", "raquo": "»", "middot": "·", "bull": "•", "copy": "©", "reg": "®",
        "trade": "™", "deg": "°", "times": "×", "divide": "÷", "euro": "€", "pound": "£", "yen": "¥",
        "cent": "¢", "sect": "§", "para": "¶", "shy": "", "aacute": "á", "agrave": "à", "acirc": "â",
        "auml": "ä", "atilde": "ã", "ccedil": "ç", "eacute": "é", "egrave": "è", "ecirc": "ê", "iacute": "í",
        "ntilde": "ñ", "oacute": "ó", "ocirc": "ô", "ouml": "ö", "otilde": "õ", "uacute": "ú", "uuml": "ü", "szlig": "ß",
    ]

    static func text(fromHTML html: String) -> String {
        let bytes = Array(html.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "<") {
                if starts(bytes, at: i, with: "<!--") {
                    i = find(bytes, "-->", from: i + 4).map { $0 + 3 } ?? bytes.count
                    continue
                }
                var j = i + 1
                let closing = j < bytes.count && bytes[j] == UInt8(ascii: "/")
                if closing { j += 1 }
                guard j < bytes.count, isLetter(bytes[j]) || (!closing && (bytes[j] == UInt8(ascii: "!") || bytes[j] == UInt8(ascii: "?"))) else {
                    out.append(byte) // a "<" that starts no tag, as in "a < b"
                    i += 1
                    continue
                }
                let nameStart = j
                while j < bytes.count, isLetter(bytes[j]) || (bytes[j] >= 0x30 && bytes[j] <= 0x39) { j += 1 }
                let name = String(decoding: bytes[nameStart..<j], as: UTF8.self).lowercased()
                i = tagEnd(bytes, from: j)
                if !closing, dropped.contains(name) {
                    i = closingTagEnd(bytes, name: name, from: i)
                } else if name == "li", !closing {
                    out += Array("\n- ".utf8)
                } else if blocks.contains(name) || (lineStarts.contains(name) && !closing) {
                    out.append(UInt8(ascii: "\n"))
                } else if name == "td" || name == "th" {
                    out.append(UInt8(ascii: " "))
                }
            } else if byte == UInt8(ascii: "&"), let (text, end) = entity(bytes, at: i) {
                out += Array(text.utf8)
                i = end
            } else {
                // Newlines in the source are only spacing; lines come from block elements.
                out.append(byte == 0x0A || byte == 0x0D || byte == 0x09 ? UInt8(ascii: " ") : byte)
                i += 1
            }
        }
        return tidy(String(decoding: out, as: UTF8.self))
    }

    /// Each line's whitespace collapsed and trimmed; at most one blank line in a row.
    static func tidy(_ text: String) -> String {
        var lines: [String] = []
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw).split(whereSeparator: \.isWhitespace).joined(separator: " ")
            if line.isEmpty, lines.last?.isEmpty ?? true { continue }
            lines.append(line)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// The decoded text of the entity at `start` ("&amp;", "&#233;", "&#xE9;") and the index after
    /// it; nil when it is not one, and the "&" is then kept as text.
    static func entity(_ bytes: [UInt8], at start: Int) -> (String, Int)? {
        guard let semicolon = bytes[start..<min(bytes.count, start + 12)].firstIndex(of: UInt8(ascii: ";")),
              semicolon > start + 1 else { return nil }
        let name = String(decoding: bytes[(start + 1)..<semicolon], as: UTF8.self)
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            let value = digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
            guard let value else { return nil }
            let scalar = value == 0 ? nil : Unicode.Scalar(value)
            return (String(Character(scalar ?? "\u{FFFD}")), semicolon + 1)
        }
        guard let text = entities[name] else { return nil }
        return (text, semicolon + 1)
    }

    /// The index after the ">" that ends a tag, skipping quoted attribute values.
    static func tagEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var i = start
        var previous: UInt8 = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: ">") { return i + 1 }
            // A quote opens a value only after "=", so a stray apostrophe cannot swallow the page.
            if (byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")) && previous == UInt8(ascii: "=") {
                guard let close = bytes[(i + 1)...].firstIndex(of: byte) else { return bytes.count }
                i = close
            }
            if byte != UInt8(ascii: " ") { previous = byte }
            i += 1
        }
        return bytes.count
    }

    /// The index after `</name ...>`, the end of a script or style's raw text.
    static func closingTagEnd(_ bytes: [UInt8], name: String, from start: Int) -> Int {
        let pattern = Array(("</" + name).utf8)
        var i = start
        while let open = find(bytes, pattern, from: i, caseInsensitive: true) {
            let after = open + pattern.count
            if after >= bytes.count || !isLetter(bytes[after]) { return tagEnd(bytes, from: after) }
            i = after
        }
        return bytes.count
    }

    static func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(lower(byte)) }

    static func lower(_ byte: UInt8) -> UInt8 { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte }

    static func starts(_ bytes: [UInt8], at start: Int, with prefix: String) -> Bool {
        bytes[start...].starts(with: prefix.utf8)
    }

    static func find(_ bytes: [UInt8], _ needle: String, from start: Int) -> Int? {
        find(bytes, Array(needle.utf8), from: start, caseInsensitive: false)
    }

    static func find(_ bytes: [UInt8], _ needle: [UInt8], from start: Int, caseInsensitive: Bool) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        var i = start
        while i + needle.count <= bytes.count {
            var k = 0
            while k < needle.count,
                  caseInsensitive ? lower(bytes[i + k]) == lower(needle[k]) : bytes[i + k] == needle[k] { k += 1 }
            if k == needle.count { return i }
            i += 1
        }
        return nil
    }
}
