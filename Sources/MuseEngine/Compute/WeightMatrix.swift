// A weight matrix used from the mapped GGUF file (or packed from it at load), and the multiply the
// forward pass runs.
import CMuseKernels

/// A (rows, cols) matrix of `type`, row-major as GGUF stores a linear layer: ne[0] = cols (inputs),
/// ne[1] = rows (outputs). The bytes belong to the mapped file.
struct WeightMatrix: @unchecked Sendable {
    let name: String
    let type: GGMLType
    let rows: Int
    let cols: Int
    let rowBytes: Int
    let data: UnsafeRawPointer
    /// The rows regrouped for the block-order kernels (`muse_pack_groups`), once `pack` has run on
    /// a type that has a packed form. `data` stays valid: the ggml-order reference multiplies it.
    private(set) var packed: PackedRows?

    init(name: String, type: GGMLType, rows: Int, cols: Int, data: UnsafeRawPointer) throws(ModelLoadError) {
        guard muse_type_supported(Int32(type.rawValue)) != 0 else {
            throw .unsupportedTensorType(tensor: name, type: type.name)
        }
        guard cols % type.blockSize == 0 else {
            throw .badTensorShape(tensor: name, expected: "a row length that is a multiple of \(type.blockSize)", found: [cols, rows])
        }
        self.name = name
        self.type = type
        self.rows = rows
        self.cols = cols
        self.rowBytes = muse_row_bytes(Int32(type.rawValue), Int64(cols))
        self.data = data
    }

    var cType: Int32 { Int32(type.rawValue) }

    /// Packs the rows for the block-order kernels if the type has a packed form (Q4_0, Q4_1, Q5_0,
    /// Q8_0, Q4_K), a slice of about 4 MiB at a time with its groups of 8 rows split across the workers.
    /// `packedSlice` gets each slice of `data` once it is packed (to release it: a large matrix then
    /// never has both copies resident).
    mutating func pack(pool: WorkerPool, packedSlice: (UnsafeRawBufferPointer) -> Void = { _ in }) {
        let bytes = muse_packed_bytes(cType, Int64(rows), Int64(cols))
        guard packed == nil, bytes > 0 else { return }
        let storage = PackedRows(byteCount: bytes)
        let (type, n, rows, rowBytes, data) = (cType, Int64(cols), Int64(rows), rowBytes, data)
        let groups = (self.rows + 7) / 8, slice = max(1, (4 << 20) / (8 * rowBytes))
        for first in stride(from: 0, to: groups, by: slice) {
            let end = min(groups, first + slice)
            pool.parallelFor(end - first) { range in
                muse_pack_groups(type, n, data, rowBytes, rows, Int64(first + range.lowerBound), Int64(first + range.upperBound), storage.base)
            }
            let lo = first * 8 * rowBytes, hi = min(self.rows, end * 8) * rowBytes
            packedSlice(UnsafeRawBufferPointer(start: data + lo, count: hi - lo))
        }
        packed = storage
    }

    /// The bytes a multiplication reads in `order`: the packed rows in block order, the rows as
    /// mapped otherwise.
    func multipliedBytes(in order: KernelOrder) -> UnsafeRawBufferPointer {
        if let packed, order == .blocks { return UnsafeRawBufferPointer(start: packed.base, count: packed.byteCount) }
        return UnsafeRawBufferPointer(start: data, count: rows * rowBytes)
    }

    /// Dequantizes row `r` into `out` (cols floats), from the packed rows if there are any (so that
    /// a packed embedding table's mapped pages are not read back).
    func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        guard let packed else {
            muse_dequantize_row(cType, data + r * rowBytes, out, Int64(cols))
            return
        }
        withUnsafeTemporaryAllocation(byteCount: rowBytes, alignment: 16) { row in
            muse_packed_row(cType, Int64(cols), packed.base, Int64(r), row.baseAddress)
            muse_dequantize_row(cType, row.baseAddress, out, Int64(cols))
        }
    }
}

/// An aligned buffer of packed weight rows, freed with the last matrix that holds it.
final class PackedRows: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        base = .allocate(byteCount: byteCount, alignment: 64)
    }

    deinit { base.deallocate() }
}

/// Activation rows converted to the type a weight type multiplies against (Q8_0, Q8_1, F16, F32),
/// kept so that several matrices with the same input (q, k, v; gate, up) convert it once.
struct ActivationRows {
    private(set) var weightType: Int32 = -1
    private(set) var count = 0
    private(set) var rowBytes = 0
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        storage = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 64)
    }

    func deallocate() { storage.deallocate() }

    var bytes: UnsafeRawPointer { UnsafeRawPointer(storage) }

    /// Converts `count` rows of `cols` floats (stride `cols`) for multiplication by `weightType`.
    mutating func convert(_ x: UnsafePointer<Float>, count: Int, cols: Int, for weightType: Int32, pool: WorkerPool) {
        let rowBytes = muse_row_bytes(muse_activation_type(weightType), Int64(cols))
        if rowBytes * count > capacity {
            storage.deallocate()
            capacity = rowBytes * count
            storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        }
        self.weightType = weightType
        self.count = count
        self.rowBytes = rowBytes
        let out = storage
        if count == 1 {
            muse_quantize_activation_row(weightType, x, out, Int64(cols))
        } else {
            pool.parallelFor(count) { range in
                for t in range {
                    muse_quantize_activation_row(weightType, x + t * cols, out + t * rowBytes, Int64(cols))
                }
            }
        }
    }
}

extension WorkerPool {
    /// Weight bytes times activation rows from which a matmul's rows go in shrinking chunks rather
    /// than equal shares. Below it, taking chunks costs more in synchronisation than the imbalance
    /// it removes (measured: SmolLM2's and the 0.5B's small decode matrices ran about 5 % slower in
    /// chunks, the 1.5B's large ones about 10 % faster).
    static let chunkedWork = 4 << 20

    /// y[t * ldy + r] = W[r] . x[t] for every output row r and activation row t, summed in `order`,
    /// rows split across the workers. `x` must have been converted for `w.type`.
    func matmul(_ w: WeightMatrix, _ x: ActivationRows, into y: UnsafeMutablePointer<Float>, ldy: Int, order: KernelOrder) {
        precondition(x.weightType == w.cType || muse_activation_type(x.weightType) == muse_activation_type(w.cType))
        let n = Int64(w.cols), xBytes = x.bytes, xRowBytes = x.rowBytes, count = Int64(x.count)
        let rows: (Range<Int>) -> Void
        if let packed = w.packed, order == .blocks {
            // Ranges start at multiples of the granule, 8: whole groups of packed rows.
            rows = { range in
                muse_matmul_packed(w.cType, n, packed.base, Int64(range.lowerBound), Int64(range.upperBound),
                                   xBytes, xRowBytes, count, y, Int64(ldy))
            }
        } else {
            rows = { range in
                muse_matmul_in_order(order.cValue, w.cType, n, w.data, w.rowBytes, Int64(range.lowerBound), Int64(range.upperBound),
                                     xBytes, xRowBytes, count, y, Int64(ldy))
            }
        }
        if w.rows * w.rowBytes * x.count >= Self.chunkedWork {
            parallelChunks(w.rows, granule: 8, rows)
        } else {
            parallelFor(w.rows, granule: 8, rows)
        }
    }
}
