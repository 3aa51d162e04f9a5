// The Swift face of CMuseKernels: which instruction-set path runs, chosen once at start-up.
import CMuseKernels
import Foundation

public enum KernelPath: String, Sendable, CaseIterable, CustomStringConvertible {
    case scalar, avx2
    case avx512VNNI = "avx512-vnni"
    case avxVNNI = "avx-vnni"

    var cValue: muse_kernel_path {
        switch self {
        case .scalar: MUSE_PATH_SCALAR
        case .avx2: MUSE_PATH_AVX2
        case .avx512VNNI: MUSE_PATH_AVX512_VNNI
        case .avxVNNI: MUSE_PATH_AVX_VNNI
        }
    }

    public var description: String { rawValue }

    /// Whether this CPU can run the path.
    public var isSupported: Bool { muse_cpu_supports(cValue) != 0 }

    /// The path dispatched kernels use now.
    public static var active: KernelPath {
        let active = muse_kernels_active()
        return allCases.first { $0.cValue == active } ?? .scalar
    }

    /// The path in use, and the summation order when it is not the default (for reports).
    public static var activeDescription: String {
        KernelOrder.active == .blocks ? active.rawValue : "\(active.rawValue), \(KernelOrder.active) order"
    }

    /// The paths this CPU can run, fastest last.
    public static var supported: [KernelPath] { allCases.filter(\.isSupported) }

    /// Forces a path; false if the CPU lacks it.
    @discardableResult
    public static func select(_ path: KernelPath) -> Bool {
        muse_kernels_select(path.cValue) == 0
    }

    /// Applies the `MUSE_KERNELS` environment override (`scalar`, `avx2`, `avx512-vnni`, `avx-vnni`), if any.
    /// Returns an error message for an unknown or unsupported value.
    public static func applyEnvironmentOverride() -> String? {
        guard let value = ProcessInfo.processInfo.environment["MUSE_KERNELS"], !value.isEmpty else { return nil }
        guard let path = KernelPath(rawValue: value.lowercased()) else {
            return "MUSE_KERNELS=\(value) is not a kernel path; use one of: \(allCases.map(\.rawValue).joined(separator: ", "))"
        }
        guard select(path) else { return "MUSE_KERNELS=\(value): this CPU cannot run the \(path) path" }
        return nil
    }
}

/// How the Q4_0 and Q5_0 kernels sum: block order (the default, one exact integer and one fused
/// multiply-add per block) or ggml's order, kept as a reference for comparisons with llama.cpp.
public enum KernelOrder: String, Sendable, CaseIterable, CustomStringConvertible {
    case blocks, ggml

    public var description: String { rawValue }

    var cValue: muse_kernel_order { self == .ggml ? MUSE_ORDER_GGML : MUSE_ORDER_BLOCKS }

    public static var active: KernelOrder { muse_kernels_order() == MUSE_ORDER_GGML ? .ggml : .blocks }

    public static func select(_ order: KernelOrder) {
        muse_kernels_set_order(order.cValue)
    }

    /// Applies the `MUSE_KERNEL_ORDER` environment override (`blocks`, `ggml`), if any. Returns an
    /// error message for an unknown value.
    public static func applyEnvironmentOverride() -> String? {
        guard let value = ProcessInfo.processInfo.environment["MUSE_KERNEL_ORDER"], !value.isEmpty else { return nil }
        guard let order = KernelOrder(rawValue: value.lowercased()) else {
            return "MUSE_KERNEL_ORDER=\(value) is not a kernel order; use one of: \(allCases.map(\.rawValue).joined(separator: ", "))"
        }
        select(order)
        return nil
    }
}
