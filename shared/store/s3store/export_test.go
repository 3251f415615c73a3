package s3store

// SetPaging makes the store list pageSize keys per ListObjectsV2 call and
// delete deleteBatch keys per DeleteObjects call, so that a test crosses page
// and batch boundaries with a few objects.
func SetPaging(s *Store, pageSize int32, deleteBatch int) {
	s.pageSize = pageSize
	s.deleteBatch = deleteBatch
}
