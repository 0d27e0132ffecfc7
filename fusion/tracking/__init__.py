"""Track storage and life-cycle management (initiation, confirmation, deletion)."""
