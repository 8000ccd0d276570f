package payload

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// The members of the export that carry its rows: the rooms, and each room's
// products.
const (
	roomsKey    = "JobRooms"
	productsKey = "JobCabinets"
)

// renderCSV renders a JSON export object as CSV. The mapping, which the README
// documents for manufacturers:
//
//   - RFC 4180: fields separated by commas, quoted with " when they hold a
//     comma, a quote, a line break or a leading space, lines ended by CRLF
//     (the last one too; a line break inside a value is written as CRLF
//     too). UTF-8, no byte-order mark.
//   - One header row, then one row per product: per entry of the JobCabinets
//     array of each entry of the export's JobRooms array, in the export's
//     order.
//   - Columns come in three groups, in this order: the export's own members
//     (job-level fields, the same on every row) named "export.<key>"; its
//     room's members other than JobCabinets, named "room.<key>"; the
//     product's members, named by their bare key. Within a group, columns
//     are in the order their keys are first seen, across all rooms for the
//     room group and all products for the product group, so the header is
//     the union of every row's keys and is deterministic. A row without some
//     column has an empty cell there.
//   - A nested object is flattened: its members become columns with dotted
//     paths ("export.Address.Street", "Hinge.Side"). An empty object adds no
//     column.
//   - An array (other than JobRooms and JobCabinets themselves) is written as
//     compact JSON text in one cell, such as [] or [{"Name":"Hinge"}]; for
//     example the export's JobSundries is in column "export.JobSundries".
//   - A string is its text; a number is its text exactly as written in the
//     export (332.96 stays 332.96); true and false are the text true and
//     false; null is an empty cell, like a missing member. Values are not
//     altered otherwise: cells beginning with = + - or @ are not escaped
//     for spreadsheets, since the reader is the manufacturer's system.
//   - An export without JobRooms (or with null), or whose rooms have no
//     products, yields the header row alone. A room without products adds
//     its columns to the header but no row.
//   - JobRooms must be an array of objects, and each JobCabinets (when
//     present and not null) an array of objects; otherwise the export cannot
//     be rendered as CSV and Build fails.
//
// A header can repeat only if a product's own key begins with "export." or
// "room.", or a key containing '.' meets a flattened path; the columns
// remain in the order described.
func renderCSV(export []byte) ([]byte, error) {
	var (
		exportCols, roomCols, productCols csvColumns
		exportCells                       []csvCell
		rooms                             [][]byte
		roomPaths                         []string
	)
	if err := validate(export); err != nil {
		return nil, err
	}
	err := eachMember(export, func(key string, v []byte) error {
		if key == roomsKey {
			return eachItem(v, roomsKey, func(i int, room []byte) error {
				rooms = append(rooms, room)
				roomPaths = append(roomPaths, roomsKey+"["+strconv.Itoa(i)+"]")
				return nil
			})
		}
		return flatten(&exportCols, &exportCells, key, v, 1)
	})
	if err != nil {
		return nil, err
	}

	type row struct{ room, product []csvCell }
	var rows []row
	for i, room := range rooms {
		var roomCells []csvCell
		var products [][]byte
		err := eachMember(room, func(key string, v []byte) error {
			if key == productsKey {
				return eachItem(v, roomPaths[i]+"."+productsKey, func(_ int, p []byte) error {
					products = append(products, p)
					return nil
				})
			}
			if err := flatten(&roomCols, &roomCells, key, v, 1); err != nil {
				return fmt.Errorf("%s: %w", roomPaths[i], err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for j, p := range products {
			var cells []csvCell
			err := eachMember(p, func(key string, v []byte) error {
				return flatten(&productCols, &cells, key, v, 1)
			})
			if err != nil {
				return nil, fmt.Errorf("%s.%s[%d]: %w", roomPaths[i], productsKey, j, err)
			}
			rows = append(rows, row{roomCells, cells})
		}
	}

	header := make([]string, 0, len(exportCols.names)+len(roomCols.names)+len(productCols.names))
	for _, n := range exportCols.names {
		header = append(header, "export."+n)
	}
	for _, n := range roomCols.names {
		header = append(header, "room."+n)
	}
	header = append(header, productCols.names...)

	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(header); err != nil {
		return nil, err
	}
	record := make([]string, len(header))
	roomAt, productAt := len(exportCols.names), len(exportCols.names)+len(roomCols.names)
	for _, r := range rows {
		clear(record)
		fill(record, 0, exportCells)
		fill(record, roomAt, r.room)
		fill(record, productAt, r.product)
		if err := w.Write(record); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// csvColumns is one group of columns, in first-seen order.
type csvColumns struct {
	index map[string]int
	names []string
}

// id returns the index of the column name in its group, adding it if new.
func (c *csvColumns) id(name string) int {
	if i, ok := c.index[name]; ok {
		return i
	}
	if c.index == nil {
		c.index = make(map[string]int)
	}
	c.index[name] = len(c.names)
	c.names = append(c.names, name)
	return len(c.names) - 1
}

// csvCell is the value of one column of a group.
type csvCell struct {
	col int
	val string
}

// fill writes cells into record, their columns counted from at. A later cell
// of the same column (a duplicate key) wins.
func fill(record []string, at int, cells []csvCell) {
	for _, c := range cells {
		record[at+c.col] = c.val
	}
}

// flatten adds the cells of member name, whose value is v, to cells,
// registering their columns in cols.
func flatten(cols *csvColumns, cells *[]csvCell, name string, v []byte, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return io.ErrUnexpectedEOF
	}
	var val string
	switch v[0] {
	case '{':
		return eachMember(v, func(key string, mv []byte) error {
			return flatten(cols, cells, name+"."+key, mv, depth+1)
		})
	case '[':
		var b bytes.Buffer
		b.Grow(len(v))
		if err := json.Compact(&b, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		val = b.String()
	case '"':
		var err error
		if val, err = decodeString(v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case 'n':
		// null: an empty cell, but the column exists.
	default:
		val = string(v) // a number or boolean, exactly as written
	}
	*cells = append(*cells, csvCell{cols.id(name), val})
	return nil
}
