package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Multi-row statements. A batch's message rows and conversation rows are
// written with INSERTs of many rows each rather than one statement per row:
// each statement costs a round through database/sql and the driver, and on
// SQLite a VDBE run, whatever its row count.
//
// The statements are prepared once, for row counts that are powers of two up
// to a maximum (1, 2, 4, … max): a batch of n rows runs n/max full
// statements and then one statement per set bit of the remainder, largest
// first. So at most log2(max)+1 statements are kept per kind, and a batch
// needs at most log2(max) statements more than the minimum.
//
// The maxima keep every statement far below the parameter limits of both
// dialects (SQLite's 32,766 since 3.32, PostgreSQL's 65,535): 64 message
// rows are 1,152 parameters, 128 conversation rows 1,024.
const (
	maxMessageRows      = 64
	maxConversationRows = 128
)

// multiRow is one kind of multi-row statement: stmts[k] writes 1<<k rows of
// cols parameters each.
type multiRow struct {
	cols  int
	stmts []*sql.Stmt
}

// valuesSQL is head, then rows tuples of cols placeholders each (a tuple is
// "($1, …, $cols" + rowTail + ")", numbered on through the rows), then
// tail. anon writes every placeholder as "?" (SQLite; see Store.anonParams).
func valuesSQL(head string, cols int, rowTail string, tail string, rows int, anon bool) string {
	var b strings.Builder
	b.Grow(len(head) + len(tail) + rows*(cols*6+len(rowTail)+4))
	b.WriteString(head)
	n := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			if anon {
				b.WriteByte('?')
			} else {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
			}
			n++
		}
		b.WriteString(rowTail)
		b.WriteByte(')')
	}
	b.WriteString(tail)
	return b.String()
}

// typedValuesSQL is like valuesSQL for a VALUES list read by a SELECT or
// an UPDATE … FROM rather than inserted as is: its first row casts each
// parameter c whose types[c] is not empty to that type, because
// PostgreSQL types a VALUES column by its first row and a bare parameter
// there would be text (SQLite's casts to a column's own type change
// nothing). The row has len(types) parameters.
func typedValuesSQL(head string, types []string, tail string, rows int, anon bool) string {
	var b strings.Builder
	b.Grow(len(head) + len(tail) + rows*(len(types)*6+4) + len(types)*16)
	b.WriteString(head)
	n := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c, typ := range types {
			if c > 0 {
				b.WriteString(", ")
			}
			if r == 0 && typ != "" {
				b.WriteString("CAST(")
			}
			n++
			if anon {
				b.WriteByte('?')
			} else {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
			}
			if r == 0 && typ != "" {
				b.WriteString(" AS " + typ + ")")
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(tail)
	return b.String()
}

// prepareMultiRow prepares build(rows) on db for rows 1, 2, 4, … max (max a
// power of two).
func prepareMultiRow(ctx context.Context, db *sql.DB, cols, max int, build func(rows int) string) (*multiRow, error) {
	if max <= 0 || max&(max-1) != 0 {
		return nil, fmt.Errorf("multi-row statement: max %d is not a power of two", max)
	}
	m := &multiRow{cols: cols}
	for rows := 1; rows <= max; rows *= 2 {
		st, err := db.PrepareContext(ctx, build(rows))
		if err != nil {
			m.close()
			return nil, err
		}
		m.stmts = append(m.stmts, st)
	}
	return m, nil
}

// exec writes the rows whose parameters are args (cols per row, rows in
// order) in tx and returns the number of rows affected in all.
func (m *multiRow) exec(ctx context.Context, tx *sql.Tx, args []any) (int64, error) {
	if len(args)%m.cols != 0 {
		return 0, fmt.Errorf("multi-row statement: %d parameters are not rows of %d", len(args), m.cols)
	}
	var total int64
	for rows := len(args) / m.cols; rows > 0; {
		k := min(bits.Len(uint(rows))-1, len(m.stmts)-1) // the largest statement that fits
		n := 1 << k
		res, err := tx.StmtContext(ctx, m.stmts[k]).ExecContext(ctx, args[:n*m.cols]...)
		if err != nil {
			return total, err
		}
		affected, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += affected
		args, rows = args[n*m.cols:], rows-n
	}
	return total, nil
}

// query runs the rows whose parameters are args (as exec) in tx and calls
// scan on each row every statement returns.
func (m *multiRow) query(ctx context.Context, tx *sql.Tx, args []any, scan func(*sql.Rows) error) error {
	if len(args)%m.cols != 0 {
		return fmt.Errorf("multi-row statement: %d parameters are not rows of %d", len(args), m.cols)
	}
	for rows := len(args) / m.cols; rows > 0; {
		k := min(bits.Len(uint(rows))-1, len(m.stmts)-1)
		n := 1 << k
		rs, err := tx.StmtContext(ctx, m.stmts[k]).QueryContext(ctx, args[:n*m.cols]...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := scan(rs); err != nil {
				rs.Close()
				return err
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		args, rows = args[n*m.cols:], rows-n
	}
	return nil
}

// close closes the statements; m may be nil.
func (m *multiRow) close() []error {
	if m == nil {
		return nil
	}
	var errs []error
	for _, st := range m.stmts {
		errs = append(errs, st.Close())
	}
	return errs
}
