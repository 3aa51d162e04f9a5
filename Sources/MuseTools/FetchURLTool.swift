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
