package cluster

import "database/sql/driver"

// sqlDriverBadConn, returned from sql.Conn.Raw, makes database/sql close
// the connection instead of returning it to the pool: a session whose lock
// state is unknown must not be reused.
var sqlDriverBadConn = driver.ErrBadConn
