// Which files of a folder the document index reads: a walk that follows links safely.
import Foundation

/// The regular files under a folder, hidden entries left out. Symbolic links are followed after
/// the real tree is walked, and only to places inside the folder; each real directory is entered
/// once, so a link loop ends, and a file reached by a link is skipped when it was already seen.
struct FolderWalk {
    struct File {
        /// Relative to the folder, with "/" separators.
        let path: String
        let url: URL
        let size: Int64
        /// Seconds since 1970, as the file system reports it.
        let modified: Double
    }

    private(set) var files: [File] = []
    private(set) var skipped: [SkippedFile] = []

    init(root: String) {
        let manager = FileManager.default
        var visitedDirectories: Set<String> = [root]
        var seenFiles: Set<String> = []
        var directories: [(real: String, relative: String)] = [(root, "")]
        var links: [(path: String, relative: String)] = []
        func join(_ parent: String, _ name: String) -> String { parent.hasSuffix("/") ? parent + name : parent + "/" + name }
        func add(real: String, relative: String, attributes: [FileAttributeKey: Any]) {
            guard seenFiles.insert(real).inserted else { return }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            files.append(File(path: relative, url: URL(fileURLWithPath: real), size: size, modified: modified))
        }
        while true {
            if let (directory, relative) = directories.popLast() {
                let names = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
                for name in names.sorted() where !name.hasPrefix(".") {
                    let path = join(directory, name)
                    let entry = relative.isEmpty ? name : relative + "/" + name
                    guard let attributes = try? manager.attributesOfItem(atPath: path) else { continue }
                    switch attributes[.type] as? FileAttributeType {
                    case .typeSymbolicLink?: links.append((path, entry))
                    case .typeDirectory?: if visitedDirectories.insert(path).inserted { directories.append((path, entry)) }
                    case .typeRegular?: add(real: path, relative: entry, attributes: attributes)
                    default: continue // sockets, pipes and devices: reading one could block
                    }
                }
            } else if let link = links.popLast() {
                guard let real = DocumentIndex.realPath(link.path) else { continue } // dangling
                guard real == root || real.hasPrefix(join(root, "")) else {
                    skipped.append(SkippedFile(path: link.relative, reason: .linkOutsideFolder))
                    continue
                }
                guard let attributes = try? manager.attributesOfItem(atPath: real) else { continue }
                switch attributes[.type] as? FileAttributeType {
                case .typeDirectory?: if visitedDirectories.insert(real).inserted { directories.append((real, link.relative)) }
                case .typeRegular?: add(real: real, relative: link.relative, attributes: attributes)
                default: continue
                }
            } else {
                break
            }
        }
    }
}
