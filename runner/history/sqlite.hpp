// A small RAII wrapper over the SQLite C API, as much as the history store
// needs: a connection, prepared statements, and errors as exceptions that
// carry SQLite's own code (so a corrupt file can be told from a locked one).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tend::sqlite {

/// A failed SQLite call: what it was doing, SQLite's message and its
/// primary result code (SQLITE_BUSY, SQLITE_CORRUPT, SQLITE_NOTADB...).
class Error : public std::runtime_error {
  public:
    Error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
    int code() const { return code_; }
    /// The file is not a database, or a damaged one.
    bool corrupt() const { return code_ == SQLITE_CORRUPT || code_ == SQLITE_NOTADB; }

  private:
    int code_;
};

class Statement;

class Database {
  public:
    /// Opens (creating when `create`) the file at `path`; read-only when
    /// not `write`. Every statement waits at most `busy_timeout_ms` for a
    /// lock held by another connection.
    Database(const std::string& path, bool write, bool create, int busy_timeout_ms);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// Runs `sql` (one or more statements, no results wanted).
    void exec(const char* sql);
    Statement prepare(std::string_view sql);
    std::int64_t last_insert_rowid() const;
    sqlite3* handle() const { return db_; }
    /// Throws an Error for `rc` (anything but OK, ROW and DONE).
    void check(int rc, std::string_view doing) const;

  private:
    sqlite3* db_ = nullptr;
};

/// A prepared statement: bind by position (from 1), step, read columns.
class Statement {
  public:
    Statement(const Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
    ~Statement();
    Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int i, std::string_view text);
    Statement& bind(int i, double value);
    Statement& bind(int i, std::int64_t value);
    Statement& bind_null(int i);
    /// True while there is a row to read.
    bool step();
    /// Ready to run again (bindings kept until bound anew).
    void reset();

    std::string text(int col) const;
    double real(int col) const { return sqlite3_column_double(stmt_, col); }
    std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
    bool null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

  private:
    const Database* db_;
    sqlite3_stmt* stmt_;
};

/// BEGIN IMMEDIATE at construction, ROLLBACK at destruction unless commit()
/// ran: a writer takes the write lock up front, so a busy database is known
/// before any row is written.
class Transaction {
  public:
    explicit Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
        db_.exec("COMMIT");
        done_ = true;
    }

  private:
    Database& db_;
    bool done_ = false;
};

}  // namespace tend::sqlite
