package im

// GroupEvent is a group event for the live sessions of one user, in im's
// own types: the gateway turns each into its wire event
// (gateway.WireGroupEvent). The State, Event and Action strings are the
// wire's values (protocol.GroupState*, protocol.GroupEvent*), which the
// metrics use as labels too.
type GroupEvent interface{ groupEvent() }

// GroupStateChanged tells a user that it entered or left a group.
type GroupStateChanged struct {
	GroupID    string
	State      string // protocol.GroupStateEnter or GroupStateQuit
	Event      string // its cause: protocol.GroupEvent*
	OperatedBy string // "": the app's server
	// Group is the group as the user sees it with Role (0: not a member);
	// nil: none is sent (a dismissed group).
	Group *Group
	Role  int
}

// GroupMemberStateChanged tells the members that users entered or left.
type GroupMemberStateChanged struct {
	GroupID     string
	State       string
	Event       string
	UserIDs     []string
	OperatedBy  string
	MemberCount int
}

// GroupMemberInfoUpdated tells the members that members' roles changed.
type GroupMemberInfoUpdated struct {
	GroupID    string
	Members    []GroupMember
	OperatedBy string
}

// GroupApplicationListChanged tells the owner and admins that a join
// request was filed (Action "added").
type GroupApplicationListChanged struct {
	Action      string
	Application JoinRequest
}

// GroupApplicationUpdated tells the owner, the admins and the applicant
// that a join request was decided.
type GroupApplicationUpdated struct {
	Application JoinRequest
	OperatedBy  string
}

// GroupJoinModeUpdated tells the members that the join mode changed.
type GroupJoinModeUpdated struct {
	GroupID    string
	JoinMode   int
	OperatedBy string
}

func (GroupStateChanged) groupEvent()           {}
func (GroupMemberStateChanged) groupEvent()     {}
func (GroupMemberInfoUpdated) groupEvent()      {}
func (GroupApplicationListChanged) groupEvent() {}
func (GroupApplicationUpdated) groupEvent()     {}
func (GroupJoinModeUpdated) groupEvent()        {}
