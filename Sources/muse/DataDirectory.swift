// Where Muse keeps what users create (document indexes, remembered facts): `--data-dir`, else
// `$MUSE_HOME/data`, else `$XDG_DATA_HOME/muse`, else `~/.local/share/muse`.
import Foundation

enum DataDirectory {
    static func resolve(_ option: String?) throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let url: URL
        if let option, !option.isEmpty {
            url = URL(fileURLWithPath: option)
        } else if let home = environment["MUSE_HOME"], !home.isEmpty {
            url = URL(fileURLWithPath: home).appendingPathComponent("data")
        } else if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            url = URL(fileURLWithPath: xdg).appendingPathComponent("muse")
        } else {
            url = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/muse")
        }
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
