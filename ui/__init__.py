"""The Streamlit pages; only app.py and this package import streamlit."""
