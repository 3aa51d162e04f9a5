// Every SQLite file Muse keeps is opened the same way: migrated to its schema, with foreign keys
// on and deleted content overwritten (`secure_delete`), so that what a person erases is gone
// from the file, not just unlinked.
import Foundation
import GRDB

public enum SQLiteFile {
    /// The database at `path` (created when missing; nil: in memory), migrated by `migrator`.
    public static func open(_ path: String?, migrator: DatabaseMigrator) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        let database = try path.map { try DatabaseQueue(path: $0, configuration: configuration) }
            ?? DatabaseQueue(configuration: configuration)
        try migrator.migrate(database)
        return database
    }
}
