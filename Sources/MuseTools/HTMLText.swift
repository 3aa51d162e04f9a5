// fetch_url's reader: HTML as the plain text a model reads.

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
