package thirdparty

// OwnerOf is the replica among ids that probes the endpoint published at
// path, as every replica computes it.
func OwnerOf(ids []string, path string) string {
	replicas := make([]replica, len(ids))
	for i, id := range ids {
		replicas[i] = replica{id: id, hash: hashOf(id)}
	}
	return ownerOf(replicas, hashOf(path))
}
