package train

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows an epoch's progress: an animated bar with loss, accuracy, img/s and ETA on
// a terminal, and on anything else (CI, a pipe, a file) one plain line per epoch.
type progress struct {
	out      io.Writer
	tty      bool
	perEpoch int
	bar      *progressbar.ProgressBar
	epoch    int
	epochs   int
}

func newProgress(out io.Writer, perEpoch int) *progress {
	f, ok := out.(*os.File)
	return &progress{out: out, perEpoch: perEpoch, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) start(epoch, epochs, done int) {
	p.epoch, p.epochs = epoch, epochs
	if !p.tty {
		return
	}
	p.bar = progressbar.NewOptions(p.perEpoch, progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth(),
		progressbar.OptionShowElapsedTimeOnFinish())
	p.bar.Set(done)
}

func (p *progress) update(done int, t epochTally, imgPerS float64) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %5.2f%% %6.0f img/s", p.epoch, p.epochs,
		t.Loss/float64(max(t.Batches, 1)), 100*float64(t.Correct)/float64(max(t.Images, 1)), imgPerS))
	p.bar.Set(done)
}

func (p *progress) finish(m EpochMetrics) {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.out)
		p.bar = nil
	}
	if m.Unevaluated {
		fmt.Fprintf(p.out, "epoch %3d/%d  step %6d  lr %.4f  train loss %.4f acc %6.2f%%  (not evaluated: -eval-every)  %7.0f img/s  %7.1f s\n",
			m.Epoch, p.epochs, m.Step, m.LR, m.TrainLoss, 100*m.TrainAcc, m.ImgPerS, m.WallS)
		return
	}
	fmt.Fprintf(p.out, "epoch %3d/%d  step %6d  lr %.4f  train loss %.4f acc %6.2f%%  %s loss %.4f (%.4f bits) acc %6.2f%%  ece %.4f  %7.0f img/s  %7.1f s\n",
		m.Epoch, p.epochs, m.Step, m.LR, m.TrainLoss, 100*m.TrainAcc, m.Split, m.TestLoss, m.TestLossBits, 100*m.TestAcc, m.ECE, m.ImgPerS, m.WallS)
}
