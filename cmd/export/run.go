package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"example.com/xent/export"
	"example.com/xent/predict"
)

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ck := fs.String("checkpoint", "", "checkpoint written by train (e.g. runs/checkpoints/best.safetensors)")
	format := fs.String("format", "", "pytorch (a folder: model.py and weights.safetensors) or onnx (a file)")
	out := fs.String("o", "", "where to write: a folder for pytorch, a file for onnx")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: export -checkpoint FILE -format pytorch|onnx -o OUT")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	case *ck == "":
		return errors.New("-checkpoint: none given (a file of train's -checkpoint-dir, e.g. best.safetensors)")
	case *out == "":
		return errors.New("-o: none given")
	case *format != "pytorch" && *format != "onnx":
		return fmt.Errorf("-format %q: want pytorch or onnx", *format)
	}
	c, err := predict.Load(*ck)
	if err != nil {
		return err
	}
	if *format == "pytorch" {
		if err := export.PyTorch(c, *out, *ck); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s (%s) as %s/%s and %s/%s\n", *ck, c.Model, *format, *out, export.PyTorchModule, *out, export.PyTorchWeights)
		return nil
	}
	if err := export.ONNX(c, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s (%s) as %s\n", *ck, c.Model, *format, *out)
	return nil
}
