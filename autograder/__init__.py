"""Autograder for the course Introduction to Convolutional Neural Networks."""
