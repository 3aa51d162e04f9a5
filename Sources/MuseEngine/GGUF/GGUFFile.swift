// GGUFFile: a parsed, validated, read-only view of a GGUF model (memory-mapped or in-memory).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where one tensor lives and what it holds.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml `ne`: dimensions with the fastest-varying (contiguous) one first.
    public let shape: [Int]
    public let type: GGMLType
    /// Byte offset relative to `GGUFFile.dataOffset`; a multiple of the file's alignment.
    public let offset: Int
    /// Bytes of tensor data, `type.byteCount(elements:)` of a row times the other dims.
    public let byteCount: Int
    public let elementCount: Int

    public init(name: String, shape: [Int], type: GGMLType, offset: Int, byteCount: Int, elementCount: Int) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
        self.elementCount = elementCount
    }
}

/// A fully validated GGUF file.
///
/// Construction parses and checks everything (see `GGUFError`); afterwards every tensor's
/// bytes are known to lie inside the buffer, so `data(for:)` needs no further checks.
///
/// Sendable: all stored properties are `let` and set once in `init`; the bytes behind
/// `base` are a read-only mapping (`PROT_READ`) or a private copy that nothing writes to,
/// and they stay alive exactly as long as this object through `owner`. Concurrent reads
/// from any number of threads are therefore safe. It is `@unchecked` only because raw
/// pointers and `AnyObject` are not `Sendable` to the compiler.
///
/// Caveat of memory mapping: if another process truncates the file while it is mapped,
/// touching the lost pages raises SIGBUS. No parser can defend against that.
public final class GGUFFile: @unchecked Sendable {
    /// Deepest allowed array-in-array nesting. Real files use 1; the bound keeps
    /// recursion (and so stack use) small on hostile input.
    public static let maxArrayNesting = 8
    /// Alignment used when `general.alignment` is absent (GGUF spec default).
    public static let defaultAlignment = 32

    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    public let fileSize: Int

    private let base: UnsafeRawPointer?
    /// Keeps `base` valid: a `MappedFile`, an `OwnedBuffer`, or the caller's owner.
    private let owner: AnyObject?
    private let tensorIndex: [String: Int]

    /// Opens `path`, maps it read-only and parses it. Only the header and metadata pages
    /// are touched; tensor data is paged in lazily when used.
    public convenience init(path: String) throws(GGUFError) {
        let mapping = try MappedFile(path: path)
        try self.init(base: mapping.base, size: mapping.size, owner: mapping)
    }

    /// Parses bytes the caller already holds. `owner` is retained for the lifetime of this
    /// object and must keep `bytes` alive and unmodified for that long.
    public convenience init(bytes: UnsafeRawBufferPointer, owner: AnyObject?) throws(GGUFError) {
        try self.init(base: bytes.baseAddress, size: bytes.count, owner: owner)
    }

    /// Parses a copy of `data` (e.g. `Data` or `[UInt8]`), placed in a 64-byte-aligned buffer
    /// so tensor pointers are as aligned as they would be in a mapping.
    public convenience init(data: some Collection<UInt8>) throws(GGUFError) {
        let buffer = OwnedBuffer(copying: data)
        try self.init(base: UnsafeRawPointer(buffer.base), size: buffer.size, owner: buffer)
    }

    private init(base: UnsafeRawPointer?, size: Int, owner: AnyObject?) throws(GGUFError) {
        let parsed = try GGUFParser.parse(base: base, size: size)
        self.base = base
        self.owner = owner
        self.fileSize = base == nil ? 0 : size
        self.version = parsed.version
        self.metadata = parsed.metadata
        self.metadataKeys = parsed.metadataKeys
        self.tensors = parsed.tensors
        self.tensorIndex = parsed.tensorIndex
        self.alignment = parsed.alignment
        self.dataOffset = parsed.dataOffset
    }

    /// `general.architecture`, e.g. "llama".
    public var architecture: String? { metadata["general.architecture"]?.string }

    public subscript(key: String) -> GGUFValue? { metadata[key] }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Start of the tensor's bytes inside this file's buffer; valid while `self` is alive.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawPointer {
        bytes(for: tensor).baseAddress.unsafelyUnwrapped
    }

    /// The tensor's bytes inside this file's buffer; valid while `self` is alive.
    public func bytes(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        // Infos are plain values, so one from another file could be passed in by mistake.
        let start = dataOffset + tensor.offset
        precondition(
            tensor.offset >= 0 && tensor.byteCount > 0 && start <= fileSize
                && tensor.byteCount <= fileSize - start,
            "tensor '\(tensor.name)' does not lie inside this GGUF file")
        return UnsafeRawBufferPointer(start: base.unsafelyUnwrapped + start, count: tensor.byteCount)
    }

    /// Tells the system that the pages wholly inside `bytes` (part of this file) are no longer
    /// needed: they leave the process's resident memory and are read back from the file if touched
    /// again. For data copied elsewhere at load (packed weights). Nothing happens to a file held in
    /// memory rather than mapped, whose bytes would be lost.
    func evict(_ bytes: UnsafeRawBufferPointer) {
        guard owner is MappedFile, let start = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + bytes.count) / page * page
        guard end > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        madvise(pointer, end - first, MADV_DONTNEED)
    }
}

/// A read-only private mapping of a whole file, unmapped when released.
final class MappedFile {
    let base: UnsafeRawPointer?
    let size: Int

    init(path: String) throws(GGUFError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: Self.errnoString()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(path: path, reason: Self.errnoString()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .cannotOpen(path: path, reason: "not a regular file")
        }
        guard let size = Int(exactly: info.st_size), size >= 0 else {
            throw .cannotOpen(path: path, reason: "unrepresentable file size \(info.st_size)")
        }
        if size == 0 {
            // mmap rejects length 0; an empty buffer parses to a clean `truncated` error.
            self.base = nil
            self.size = 0
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap failed: " + Self.errnoString())
        }
        self.base = UnsafeRawPointer(mapped)
        self.size = size
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    private static func errnoString() -> String {
        String(cString: strerror(errno))
    }
}

/// An owned, aligned copy of in-memory bytes, freed when released.
final class OwnedBuffer {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(copying data: some Collection<UInt8>) {
        let count = data.count
        size = count
        base = .allocate(byteCount: max(count, 1), alignment: 64)
        let destination = UnsafeMutableRawBufferPointer(start: base, count: count)
        let copied: Void? = data.withContiguousStorageIfAvailable { source in
            destination.copyMemory(from: UnsafeRawBufferPointer(source))
        }
        if copied == nil { destination.copyBytes(from: data) }
    }

    deinit { base.deallocate() }
}
