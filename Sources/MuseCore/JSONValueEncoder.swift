// Any Encodable value as a JSONValue, its members in the order the value encodes them: a type's
// properties in their declared order, a JSONValue's members in the order it holds. Foundation's
// encoder on Linux orders members at random, which loses a JSON Schema's property order and
// makes the same reply come out as different text.

public enum JSONValueEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let json = value as? JSONValue { return json }
        let root = Node()
        try value.encode(to: NodeEncoder(node: root, codingPath: []))
        return root.value
    }
}

/// A value being built: filled in by whichever container an encoder asks for. Members and items
/// are appended in place, so that building a long array or object stays linear.
private final class Node {
    enum Kind { case empty, value, object, array }

    var kind = Kind.empty
    var scalar = JSONValue.null
    var keys: [String] = []
    var children: [Node] = []

    var value: JSONValue {
        switch kind {
        case .empty: .object(JSONObject())
        case .value: scalar
        case .object: .object(JSONObject(zip(keys, children.map(\.value)).map { ($0, $1) }))
        case .array: .array(children.map(\.value))
        }
    }

    /// Makes this node the value `json`.
    func hold(_ json: JSONValue) {
        kind = .value
        scalar = json
        keys = []
        children = []
    }

    func becomeObject() {
        if kind != .object { kind = .object; keys = []; children = [] }
    }

    func becomeArray() {
        if kind != .array { kind = .array; keys = []; children = [] }
    }

    func member(_ key: String) -> Node {
        becomeObject()
        if let at = keys.firstIndex(of: key) { return children[at] }
        let child = Node()
        keys.append(key)
        children.append(child)
        return child
    }

    func appended() -> Node {
        becomeArray()
        let child = Node()
        children.append(child)
        return child
    }

    func set<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws {
        if let json = value as? JSONValue {
            hold(json)
        } else {
            try value.encode(to: NodeEncoder(node: self, codingPath: codingPath))
        }
    }

    /// Every integer type writes its digits (the defaults would come back through `set` forever).
    static func integer<I: BinaryInteger>(_ value: I) -> JSONValue { .number(JSONNumber(checkedText: String(value))) }

    static func number(_ value: Double, codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no \(value)"))
        }
        return .number(JSONNumber(value))
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.becomeObject()
        return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.becomeArray()
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.member(key.stringValue).hold(.null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { node.member(key.stringValue).hold(.bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { node.member(key.stringValue).hold(.string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        node.member(key.stringValue).hold(try Node.number(value, codingPath: codingPath + [key]))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        // The float's shortest text, not the double it widens to (0.1, not 0.10000000149011612).
        node.member(key.stringValue).hold(try Node.number(Double("\(value)") ?? .nan, codingPath: codingPath + [key]))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { node.member(key.stringValue).hold(Node.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try node.member(key.stringValue).set(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.member("super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int { node.children.count }

    mutating func encodeNil() throws { node.appended().hold(.null) }
    mutating func encode(_ value: Bool) throws { node.appended().hold(.bool(value)) }
    mutating func encode(_ value: String) throws { node.appended().hold(.string(value)) }
    mutating func encode(_ value: Double) throws { node.appended().hold(try Node.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: Float) throws {
        node.appended().hold(try Node.number(Double("\(value)") ?? .nan, codingPath: codingPath))
    }
    mutating func encode(_ value: Int) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: Int8) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: Int16) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: Int32) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: Int64) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: UInt) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: UInt8) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: UInt16) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: UInt32) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode(_ value: UInt64) throws { node.appended().hold(Node.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.appended().set(value, codingPath: codingPath) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: node.appended(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.appended(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.appended(), codingPath: codingPath) }
}

private struct Single: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.hold(.null) }
    mutating func encode(_ value: Bool) throws { node.hold(.bool(value)) }
    mutating func encode(_ value: String) throws { node.hold(.string(value)) }
    mutating func encode(_ value: Double) throws { node.hold(try Node.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: Float) throws { node.hold(try Node.number(Double("\(value)") ?? .nan, codingPath: codingPath)) }
    mutating func encode(_ value: Int) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: Int8) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: Int16) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: Int32) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: Int64) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: UInt) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: UInt8) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: UInt16) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: UInt32) throws { node.hold(Node.integer(value)) }
    mutating func encode(_ value: UInt64) throws { node.hold(Node.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.set(value, codingPath: codingPath) }
}
