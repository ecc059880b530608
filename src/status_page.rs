//! TODO: status_page
