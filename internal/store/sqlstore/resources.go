package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/latchkey/latchkey/internal/store"
)

const resourceColumns = "uri, name, scopes, client_id, created_at, updated_at"

func scanResource(s rowScanner) (store.Resource, error) {
	var r store.Resource
	err := s.Scan(&r.URI, &r.Name, list(&r.Scopes), &r.ClientID, tm(&r.CreatedAt), tm(&r.UpdatedAt))
	return r, err
}

func checkResource(r store.Resource) error {
	if err := checkKeys(r.ClientID); err != nil {
		return err
	}
	return checkText(append([]string{r.URI, r.Name}, r.Scopes...)...)
}

// CreateResource inserts credentials and r in one transaction; ErrConflict
// if the URI or the client id exists, ErrInvalid.
func (db *DB) CreateResource(ctx context.Context, r store.Resource, credentials store.Client) error {
	if credentials.ID != r.ClientID {
		return fmt.Errorf("create resource: %w: the credentials are not the resource's client", store.ErrInvalid)
	}
	err := checkResource(r)
	if err == nil {
		err = checkClient(credentials)
	}
	if err != nil {
		return fmt.Errorf("create resource: %w", err)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		q := "INSERT INTO clients (" + clientColumns + ") VALUES (" + db.d.args(1, clientColumnCount) + ")"
		if _, err := db.exec(ctx, tx, q, db.clientArgs(credentials)...); err != nil {
			return err
		}
		q = "INSERT INTO resources (" + resourceColumns + ") VALUES (" + db.d.args(1, 6) + ")"
		_, err := db.exec(ctx, tx, q, r.URI, r.Name, encodeList(r.Scopes), r.ClientID, db.d.time(r.CreatedAt), db.d.time(r.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create resource: %w", mapErr(err))
	}
	return nil
}

// GetResource returns the resource by URI; ErrNotFound.
func (db *DB) GetResource(ctx context.Context, uri string) (store.Resource, error) {
	if checkText(uri) != nil {
		return store.Resource{}, fmt.Errorf("get resource: %w", store.ErrNotFound)
	}
	return one(db.queryRow(ctx, db.read, "SELECT "+resourceColumns+" FROM resources WHERE uri = "+db.d.arg(1), uri), scanResource, "get resource")
}

// ListResources returns every resource ordered by URI (byte order).
func (db *DB) ListResources(ctx context.Context) ([]store.Resource, error) {
	rows, err := db.query(ctx, db.read, "SELECT "+resourceColumns+" FROM resources ORDER BY uri")
	out, err := collect(rows, err, scanResource)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return out, nil
}

// UpdateResource sets the name, scopes and UpdatedAt of the resource with
// r.URI; ErrNotFound, ErrInvalid.
func (db *DB) UpdateResource(ctx context.Context, r store.Resource) error {
	if err := checkText(append([]string{r.URI, r.Name}, r.Scopes...)...); err != nil {
		return fmt.Errorf("update resource: %w", err)
	}
	p := db.d.arg
	n, err := db.execWrite(ctx, "UPDATE resources SET name = "+p(1)+", scopes = "+p(2)+", updated_at = "+p(3)+" WHERE uri = "+p(4),
		r.Name, encodeList(r.Scopes), db.d.time(r.UpdatedAt), r.URI)
	if err != nil {
		return fmt.Errorf("update resource: %w", mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("update resource: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteResource removes the resource's client and so, by the cascading
// foreign key, the resource; ErrNotFound.
func (db *DB) DeleteResource(ctx context.Context, uri string) error {
	if checkText(uri) != nil {
		return fmt.Errorf("delete resource: %w", store.ErrNotFound)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		n, err := db.execCount(ctx, tx, "DELETE FROM clients WHERE id = (SELECT client_id FROM resources WHERE uri = "+db.d.arg(1)+")", uri)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete resource: %w", mapErr(err))
	}
	return nil
}
