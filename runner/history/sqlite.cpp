// The SQLite wrapper: see sqlite.hpp.
#include "history/sqlite.hpp"

#include <fmt/format.h>

namespace tend::sqlite {

Database::Database(const std::string& path, bool write, bool create, int busy_timeout_ms) {
    int flags = write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (write && create) flags |= SQLITE_OPEN_CREATE;
    // No mutexes: one connection is used by one thread. Close-on-exec is
    // SQLite's own default for the descriptors it opens (O_CLOEXEC).
    flags |= SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(fmt::format("cannot open: {}", message), rc & 0xff);
    }
    sqlite3_extended_result_codes(db_, 0);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Database::~Database() {
    if (db_) sqlite3_close_v2(db_);
}

void Database::check(int rc, std::string_view doing) const {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
    throw Error(fmt::format("{}: {}", doing, sqlite3_errmsg(db_)), rc & 0xff);
}

void Database::exec(const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string what = message ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        throw Error(what, rc & 0xff);
    }
}

Statement Database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    check(sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr),
          "prepare");
    return Statement(*this, stmt);
}

std::int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_);
}

Statement::~Statement() {
    if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int i, std::string_view text) {
    db_->check(
        sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT),
        "bind");
    return *this;
}

Statement& Statement::bind(int i, double value) {
    db_->check(sqlite3_bind_double(stmt_, i, value), "bind");
    return *this;
}

Statement& Statement::bind(int i, std::int64_t value) {
    db_->check(sqlite3_bind_int64(stmt_, i, value), "bind");
    return *this;
}

Statement& Statement::bind_null(int i) {
    db_->check(sqlite3_bind_null(stmt_, i), "bind");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    db_->check(rc, "step");
    return rc == SQLITE_ROW;
}

void Statement::reset() {
    sqlite3_reset(stmt_);
}

std::string Statement::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
}

Transaction::~Transaction() {
    if (done_) return;
    try {
        db_.exec("ROLLBACK");
    } catch (const Error&) {  // nothing to roll back (the BEGIN failed)
    }
}

}  // namespace tend::sqlite
