#pragma once
// Schema of the SQLite store and its forward migrations. The file carries
// PRAGMA application_id (identifies an annals store) and PRAGMA user_version
// (the schema version).

namespace SQLite { class Database; }

namespace annals::sqlite_schema {

inline constexpr int application_id = 0x414E4E4C;  // "ANNL"

/// The newest schema version this build knows.
int latest_version();

/// The oldest schema version a read-only connection reads without
/// migrating it (version 4 only added the record of what uses the store).
int oldest_readable_version();

/// Throws StoreError unless the file is empty or an annals store of a
/// version this build can read. Reads only.
void check_identity(SQLite::Database& db, const char* path);

/// Checks the file is an annals store (or empty) and migrates it forward to
/// latest_version() in one IMMEDIATE transaction. Throws StoreError.
void migrate(SQLite::Database& db, const char* path);

} // namespace annals::sqlite_schema
