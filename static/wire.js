// The wire view: click an exchange in a lane's dialogue to see its bytes.
// (Being built: issue 16, section 3.)

export function attach(_panel, _lanes) {}
