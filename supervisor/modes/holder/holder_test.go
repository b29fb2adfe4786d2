package holder

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestMySQLHolderAnswersWithAnError(t *testing.T) {
	h, err := Listen(0, MySQL, "pod in debug mode")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err := net.Dial("tcp", h.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "\x1a\x00\x00\x00\xff\x51\x04#HY000pod in debug mode"
	if string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}

func TestAcceptCloseHolder(t *testing.T) {
	h, err := Listen(0, AcceptClose, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", h.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("read %q, %v; want EOF at once", b, err)
	}
	c.Close()
	h.Close()
	if _, err := net.Dial("tcp", h.Addr().String()); err == nil {
		t.Fatal("port still open after Close")
	}
}
