package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/latchkey/latchkey/internal/store"
)

const userColumns = "id, username, password_hash, name, email, created_at, updated_at, email_verified, disabled_at"

// userColumnCount is the number of userColumns.
const userColumnCount = 9

func scanUser(s rowScanner) (store.User, error) {
	var u store.User
	err := s.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Name, &u.Email, tm(&u.CreatedAt), tm(&u.UpdatedAt), &u.EmailVerified, tm(&u.DisabledAt))
	return u, err
}

func checkUser(u store.User) error {
	if err := checkKeys(u.ID, u.Username); err != nil {
		return err
	}
	return checkText(u.PasswordHash, u.Name, u.Email)
}

// userArgs returns the values of userColumns, in order.
func (db *DB) userArgs(u store.User) []any {
	return []any{u.ID, u.Username, u.PasswordHash, u.Name, u.Email, db.d.time(u.CreatedAt), db.d.time(u.UpdatedAt),
		u.EmailVerified, db.d.time(u.DisabledAt)}
}

// CreateUser inserts u; ErrConflict if the id or username exists, ErrInvalid.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	q := "INSERT INTO users (" + userColumns + ") VALUES (" + db.d.args(1, userColumnCount) + ")"
	if _, err := db.execWrite(ctx, q, db.userArgs(u)...); err != nil {
		return fmt.Errorf("create user: %w", mapErr(err))
	}
	return nil
}

// GetUser returns the user by id; ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	return db.getUser(ctx, "get user", "id", id)
}

// GetUserByUsername returns the user by exact (byte-for-byte) username; ErrNotFound.
func (db *DB) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return db.getUser(ctx, "get user by username", "username", username)
}

// getUser returns the user whose column (id or username, both unique) is key.
func (db *DB) getUser(ctx context.Context, op, column, key string) (store.User, error) {
	if !validKey(key) {
		return store.User{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	q := "SELECT " + userColumns + " FROM users WHERE " + column + " = " + db.d.arg(1)
	return one(db.queryRow(ctx, db.read, q, key), scanUser, op)
}

// ListUsers returns every user ordered by username (byte order).
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := db.query(ctx, db.read, "SELECT "+userColumns+" FROM users ORDER BY username")
	out, err := collect(rows, err, scanUser)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// UpdateUser replaces every field of the user with u.ID; ErrNotFound,
// ErrConflict if the new username belongs to another user, ErrInvalid.
func (db *DB) UpdateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	q := "UPDATE users SET " + db.d.assignments(userColumns) + " WHERE id = " + db.d.arg(1)
	n, err := db.execWrite(ctx, q, db.userArgs(u)...)
	if err != nil {
		return fmt.Errorf("update user: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("update user: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteUser removes the user and, by cascading foreign keys in the same
// statement, their sessions, authorization requests, grants, codes and
// tokens; ErrNotFound.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	if !validKey(id) {
		return fmt.Errorf("delete user: %w", store.ErrNotFound)
	}
	// A transaction so that PostgreSQL may run it again if the cascade
	// deadlocks with a concurrent writer.
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		n, err := db.execCount(ctx, tx, "DELETE FROM users WHERE id = "+db.d.arg(1), id)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		if err == nil {
			// The activity log names users without a foreign key (it is
			// written in batches that must not fail for one deleted user).
			_, err = db.exec(ctx, tx, "DELETE FROM activity WHERE user_id = "+db.d.arg(1), id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user: %w", mapErr(err))
	}
	return nil
}
